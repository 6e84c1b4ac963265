import type { Pool } from "pg";
import type { Address } from "../../domain/types";
import type { ApiKeyDetails, ApiKeySpend } from "../apiKeys/apiKeyRepository";
import { apiKeyFromSqlRow, type ApiKeySqlRow } from "../apiKeys/apiKeyRow";
import { bigintFromNumeric } from "../money";
import { runNamed, type NamedStatement } from "../pgPool";
import { isUuid } from "../uuid";

export interface KeyWithSpend extends ApiKeyDetails {
  spend: ApiKeySpend;
}

const COLUMNS = `k.id, k.account, k.name, k.prefix, k.allowed_models, k.daily_spend_cap_base, k.total_spend_cap_base,
  k.requests_per_minute, k.tokens_per_minute, k.revoked_at, k.created_at, k.last_used_at,
  s.held_micros, s.total_spent_micros,
  CASE WHEN s.spend_day >= $2::date THEN s.day_spent_micros ELSE 0 END AS today_spent_micros`;

// The day counter reads as 0 once its day is over, as the ledger counts it ($2: today, UTC).
const LIST_ACCOUNT_KEYS: NamedStatement = {
  name: "web_account_keys",
  text: `
SELECT ${COLUMNS}
FROM api_keys k JOIN api_key_spend s ON s.key_id = k.id
WHERE k.account = $1
ORDER BY k.created_at DESC, k.id DESC`,
};

const GET_ACCOUNT_KEY: NamedStatement = {
  name: "web_account_key",
  text: `
SELECT ${COLUMNS}
FROM api_keys k JOIN api_key_spend s ON s.key_id = k.id
WHERE k.account = $1 AND k.id = $3::uuid`,
};

const COUNT_ACTIVE_KEYS: NamedStatement = {
  name: "web_account_active_keys",
  text: `SELECT count(*)::int AS count FROM api_keys WHERE account = $1 AND revoked_at IS NULL`,
};

interface KeySqlRow extends ApiKeySqlRow {
  created_at: Date;
  last_used_at: Date | null;
  held_micros: string;
  total_spent_micros: string;
  today_spent_micros: string;
}

/**
 * An account's keys with what each has spent, in one query. Every read is
 * scoped by the account, so a key of another account is simply not found.
 */
export class AccountKeys {
  constructor(private readonly pool: Pool) {}

  /** Newest first, revoked keys included. `today` is the current UTC day, `YYYY-MM-DD`. */
  async list(account: Address, today: string): Promise<KeyWithSpend[]> {
    return (await runNamed<KeySqlRow>(this.pool, LIST_ACCOUNT_KEYS, [account, today])).map(keyFromRow);
  }

  /** The account's key `id`, or null when there is no such key or it belongs to someone else. */
  async get(account: Address, id: string, today: string): Promise<KeyWithSpend | null> {
    if (!isUuid(id)) return null;
    const [row] = await runNamed<KeySqlRow>(this.pool, GET_ACCOUNT_KEY, [account, today, id]);
    return row ? keyFromRow(row) : null;
  }

  async countActive(account: Address): Promise<number> {
    const [row] = await runNamed<{ count: number }>(this.pool, COUNT_ACTIVE_KEYS, [account]);
    return row.count;
  }
}

function keyFromRow(row: KeySqlRow): KeyWithSpend {
  return {
    ...apiKeyFromSqlRow(row),
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    spend: {
      keyId: row.id,
      heldMicros: bigintFromNumeric(row.held_micros),
      totalSpentMicros: bigintFromNumeric(row.total_spent_micros),
      todaySpentMicros: bigintFromNumeric(row.today_spent_micros),
    },
  };
}
