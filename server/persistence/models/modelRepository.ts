import type { DataSource } from "typeorm";
import type { Model } from "../../domain/types";
import { ModelEntity, type ModelRow } from "../entities/model";

export interface ModelDetails extends Model {
  /** Disabled models are hidden from the catalog and cannot be requested. */
  enabled: boolean;
}

export type ModelInput = Model & { enabled?: boolean };

/** Models and their rates, for the CLI and the tests. */
export class ModelRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Creates the model or replaces its description and rates. */
  async upsert(model: ModelInput): Promise<ModelDetails> {
    assertValid(model);
    const row: ModelRow = {
      id: model.id,
      ownedBy: model.ownedBy,
      created: model.created,
      contextLength: model.contextLength,
      maxOutputTokens: model.maxOutputTokens,
      promptRatePerMTok: model.promptRatePerMTok,
      completionRatePerMTok: model.completionRatePerMTok,
      enabled: model.enabled ?? true,
    };
    await this.dataSource.getRepository(ModelEntity).upsert(row, ["id"]);
    return (await this.get(model.id))!;
  }

  async get(id: string): Promise<ModelDetails | null> {
    const row = await this.dataSource.getRepository(ModelEntity).findOneBy({ id });
    return row ? detailsFromRow(row) : null;
  }

  /** Every model, disabled ones included. */
  async list(): Promise<ModelDetails[]> {
    return (await this.dataSource.getRepository(ModelEntity).find({ order: { id: "ASC" } })).map(detailsFromRow);
  }

  async setEnabled(id: string, enabled: boolean): Promise<boolean> {
    const result = await this.dataSource.getRepository(ModelEntity).update({ id }, { enabled });
    return result.affected === 1;
  }
}

function assertValid(model: ModelInput): void {
  if (model.id.trim() === "") throw new TypeError("a model needs an id");
  for (const [label, tokens] of [
    ["context length", model.contextLength],
    ["max output tokens", model.maxOutputTokens],
  ] as const) {
    if (!(Number.isInteger(tokens) && tokens > 0))
      throw new RangeError(`${label} must be a positive integer: ${tokens}`);
  }
  if (model.promptRatePerMTok < 0n || model.completionRatePerMTok < 0n) {
    throw new RangeError("rates cannot be negative");
  }
  if (!Number.isInteger(model.created) || model.created < 0) {
    throw new RangeError(`created must be a Unix time in seconds: ${model.created}`);
  }
}

function detailsFromRow(row: ModelRow): ModelDetails {
  return {
    id: row.id,
    ownedBy: row.ownedBy,
    created: row.created,
    contextLength: row.contextLength,
    maxOutputTokens: row.maxOutputTokens,
    promptRatePerMTok: row.promptRatePerMTok,
    completionRatePerMTok: row.completionRatePerMTok,
    enabled: row.enabled,
  };
}
