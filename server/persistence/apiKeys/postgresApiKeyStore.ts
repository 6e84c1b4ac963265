import type { Pool } from "pg";
import type { ApiKeyStore } from "../../domain/ports";
import type { ApiKey } from "../../domain/types";
import { runNamed, type NamedStatement } from "../pgPool";
import { API_KEY_COLUMNS, apiKeyFromSqlRow, type ApiKeySqlRow } from "./apiKeyRow";
import type { KeyUsageBatcher } from "./keyUsageBatcher";

const FIND_KEY_BY_HASH: NamedStatement = {
  name: "api_keys_find_by_hash",
  text: `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE secret_sha256 = $1`,
};

/** Authentication's view of the keys: one indexed lookup per request, uses written in batches. */
export class PostgresApiKeyStore implements ApiKeyStore {
  constructor(private readonly pool: Pool, private readonly usage: KeyUsageBatcher) {}

  async findByHash(sha256Hex: string): Promise<ApiKey | null> {
    const [row] = await runNamed<ApiKeySqlRow>(this.pool, FIND_KEY_BY_HASH, [sha256Hex]);
    return row ? apiKeyFromSqlRow(row) : null;
  }

  touch(keyId: string, at: Date): void {
    this.usage.record(keyId, at);
  }
}
