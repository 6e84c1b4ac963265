import type { Pool } from "pg";
import type { ModelCatalog } from "../../domain/ports";
import type { Model } from "../../domain/types";
import { runNamed, type NamedStatement } from "../pgPool";
import { MODEL_COLUMNS, modelFromSqlRow, type ModelSqlRow } from "./modelRow";

const LIST_ENABLED_MODELS: NamedStatement = {
  name: "models_list_enabled",
  text: `SELECT ${MODEL_COLUMNS} FROM models WHERE enabled ORDER BY id`,
};

const GET_ENABLED_MODEL: NamedStatement = {
  name: "models_get_enabled",
  text: `SELECT ${MODEL_COLUMNS} FROM models WHERE id = $1 AND enabled`,
};

/** The models on the network; disabled ones are not on it. Always read fresh; the domain layer caches. */
export class PostgresModelCatalog implements ModelCatalog {
  constructor(private readonly pool: Pool) {}

  async list(): Promise<Model[]> {
    return (await runNamed<ModelSqlRow>(this.pool, LIST_ENABLED_MODELS, [])).map(modelFromSqlRow);
  }

  async get(id: string): Promise<Model | null> {
    const [row] = await runNamed<ModelSqlRow>(this.pool, GET_ENABLED_MODEL, [id]);
    return row ? modelFromSqlRow(row) : null;
  }
}
