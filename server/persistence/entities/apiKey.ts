import { EntitySchema } from "typeorm";
import { createdAtColumn, moneyColumn, timestampColumn } from "./columns";

export interface ApiKeyRow {
  id: string;
  account: string;
  name: string;
  /** SHA-256 of the secret, hex; the secret itself is never stored. */
  secretSha256: string;
  prefix: string;
  allowedModels: string[] | null;
  dailySpendCapBase: bigint | null;
  totalSpendCapBase: bigint | null;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export const ApiKeyEntity = new EntitySchema<ApiKeyRow>({
  name: "ApiKey",
  tableName: "api_keys",
  columns: {
    id: { type: "uuid", primary: true },
    account: { type: "text" },
    name: { type: "text" },
    secretSha256: { type: "text", name: "secret_sha256" },
    prefix: { type: "text" },
    allowedModels: { type: "text", array: true, name: "allowed_models", nullable: true },
    dailySpendCapBase: moneyColumn("daily_spend_cap_base", { nullable: true }),
    totalSpendCapBase: moneyColumn("total_spend_cap_base", { nullable: true }),
    requestsPerMinute: { type: "integer", name: "requests_per_minute", nullable: true },
    tokensPerMinute: { type: "integer", name: "tokens_per_minute", nullable: true },
    createdAt: createdAtColumn,
    lastUsedAt: timestampColumn("last_used_at", { nullable: true }),
    revokedAt: timestampColumn("revoked_at", { nullable: true }),
  },
  foreignKeys: [
    { name: "api_keys_account_fk", target: "Account", columnNames: ["account"], referencedColumnNames: ["address"] },
  ],
  uniques: [{ name: "api_keys_secret_sha256_unique", columns: ["secretSha256"] }],
  indices: [{ name: "api_keys_account_idx", columns: ["account"] }],
  checks: [
    { name: "api_keys_secret_sha256_format", expression: `secret_sha256 ~ '^[0-9a-f]{64}$'` },
    {
      name: "api_keys_limits_non_negative",
      expression:
        "daily_spend_cap_base >= 0 AND total_spend_cap_base >= 0 AND requests_per_minute > 0 AND tokens_per_minute > 0",
    },
  ],
});

export interface ApiKeySpendRow {
  keyId: string;
  heldMicros: bigint;
  totalSpentMicros: bigint;
  /** UTC day counted by `daySpentMicros`, `YYYY-MM-DD`; null before the first spend. */
  spendDay: string | null;
  daySpentMicros: bigint;
}

export const ApiKeySpendEntity = new EntitySchema<ApiKeySpendRow>({
  name: "ApiKeySpend",
  tableName: "api_key_spend",
  columns: {
    keyId: { type: "uuid", primary: true, name: "key_id" },
    heldMicros: moneyColumn("held_micros", { default: 0 }),
    totalSpentMicros: moneyColumn("total_spent_micros", { default: 0 }),
    spendDay: { type: "date", name: "spend_day", nullable: true },
    daySpentMicros: moneyColumn("day_spent_micros", { default: 0 }),
  },
  foreignKeys: [
    { name: "api_key_spend_key_fk", target: "ApiKey", columnNames: ["keyId"], referencedColumnNames: ["id"] },
  ],
  checks: [
    {
      name: "api_key_spend_non_negative",
      expression: "held_micros >= 0 AND total_spent_micros >= 0 AND day_spent_micros >= 0",
    },
  ],
});
