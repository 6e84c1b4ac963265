import { EntitySchema } from "typeorm";
import { int8AsNumber } from "../money";
import { moneyColumn, timestampColumn } from "./columns";

export type UsageOutcome = "completed" | "client_disconnected" | "upstream_error";

export interface UsageRecordRow {
  requestId: string;
  account: string;
  keyId: string;
  modelId: string;
  providerAddress: string;
  upstreamId: string;
  promptTokens: number;
  completionTokens: number;
  cachedPromptTokens: number;
  reasoningTokens: number;
  costMicros: bigint;
  estimated: boolean;
  outcome: UsageOutcome;
  stream: boolean;
  latencyMs: number;
  createdAt: Date;
  /** The voucher whose usage root holds this record's receipt; null until the settlement worker builds it. */
  voucherId: number | null;
}

/** Written only by the ledger's commit statement; declared here for the schema's sake and for reads. */
export const UsageRecordEntity = new EntitySchema<UsageRecordRow>({
  name: "UsageRecord",
  tableName: "usage_records",
  columns: {
    requestId: { type: "text", primary: true, name: "request_id" },
    account: { type: "text" },
    keyId: { type: "uuid", name: "key_id" },
    modelId: { type: "text", name: "model_id" },
    providerAddress: { type: "text", name: "provider_address" },
    upstreamId: { type: "uuid", name: "upstream_id" },
    promptTokens: { type: "integer", name: "prompt_tokens" },
    completionTokens: { type: "integer", name: "completion_tokens" },
    cachedPromptTokens: { type: "integer", name: "cached_prompt_tokens" },
    reasoningTokens: { type: "integer", name: "reasoning_tokens" },
    costMicros: moneyColumn("cost_micros"),
    estimated: { type: "boolean" },
    outcome: { type: "text" },
    stream: { type: "boolean" },
    latencyMs: { type: "integer", name: "latency_ms" },
    createdAt: timestampColumn("created_at"),
    voucherId: { type: "bigint", name: "voucher_id", nullable: true, transformer: int8AsNumber },
  },
  indices: [
    { name: "usage_records_key_history_idx", columns: ["keyId", "createdAt"] },
    { name: "usage_records_account_history_idx", columns: ["account", "createdAt"] },
    { name: "usage_records_settlement_idx", columns: ["account", "providerAddress", "createdAt"] },
    {
      name: "usage_records_unvouchered_idx",
      columns: ["account", "providerAddress", "createdAt"],
      where: "voucher_id IS NULL",
    },
    { name: "usage_records_voucher_idx", columns: ["voucherId"], where: "voucher_id IS NOT NULL" },
  ],
  checks: [
    {
      name: "usage_records_counts_non_negative",
      expression:
        "prompt_tokens >= 0 AND completion_tokens >= 0 AND cached_prompt_tokens >= 0 AND reasoning_tokens >= 0 AND cost_micros >= 0 AND latency_ms >= 0",
    },
    {
      name: "usage_records_outcome_known",
      expression: "outcome IN ('completed', 'client_disconnected', 'upstream_error')",
    },
  ],
});
