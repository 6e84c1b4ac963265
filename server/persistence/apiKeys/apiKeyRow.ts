import type { ApiKey } from "../../domain/types";
import { nullableBigintFromNumeric } from "../money";

/** The api_keys columns the request path reads, as node-postgres returns them. */
export const API_KEY_COLUMNS = `id, account, name, prefix, allowed_models, daily_spend_cap_base, total_spend_cap_base,
  requests_per_minute, tokens_per_minute, revoked_at`;

export interface ApiKeySqlRow {
  id: string;
  account: string;
  name: string;
  prefix: string;
  allowed_models: string[] | null;
  daily_spend_cap_base: string | null;
  total_spend_cap_base: string | null;
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  revoked_at: Date | null;
}

export function apiKeyFromSqlRow(row: ApiKeySqlRow): ApiKey {
  return {
    id: row.id,
    account: row.account,
    name: row.name,
    prefix: row.prefix,
    allowedModels: row.allowed_models,
    dailySpendCapBase: nullableBigintFromNumeric(row.daily_spend_cap_base),
    totalSpendCapBase: nullableBigintFromNumeric(row.total_spend_cap_base),
    requestsPerMinute: row.requests_per_minute,
    tokensPerMinute: row.tokens_per_minute,
    revokedAt: row.revoked_at,
  };
}
