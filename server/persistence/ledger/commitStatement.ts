import type { UsageRecordInput } from "../../domain/ports";
import type { NamedStatement } from "../pgPool";
import { timestampFromEpochMs, utcDayFromEpochMs } from "./ledgerSql";

/**
 * Records a request's usage and releases its hold, in one statement.
 *
 * Everything hangs off `recorded`: the usage row is inserted only if the key
 * belongs to the account, and `ON CONFLICT (request_id) DO NOTHING` makes a
 * repeated commit insert nothing, so nothing else happens either. The hold is
 * deleted only by the commit that recorded the usage, and `held` goes down by
 * exactly what that DELETE returned: if the sweeper (or a release) removed the
 * hold first, the DELETE finds no row and `held` is left alone, so it is never
 * given back twice. The usage is still recorded and charged in full.
 *
 * `cost_micros` may exceed the hold (an upstream that ignored max_tokens): the
 * account is charged what was generated; `unsettled` simply grows past the hold.
 *
 * Row locks come in the order hold → balance → key spend, the order release
 * uses too, and reserve locks balance → key spend: no cycle, no deadlock.
 * The key's day counter follows the newest UTC day any instance has written,
 * so instances whose clocks straddle midnight do not reset each other's count.
 *
 * Commits synchronously (the session's setting, `on` by default): the caller
 * answers its client only once the record is durable. Unlike the reserve and
 * release statements, it must never turn synchronous_commit off.
 *
 * Built by `commitUsageValues`: $1 request_id · $2 hold_id · $3 account ·
 * $4 key_id · $5 model_id · $6 provider_address · $7 upstream_id ·
 * $8 prompt_tokens · $9 completion_tokens · $10 cached_prompt_tokens ·
 * $11 reasoning_tokens · $12 cost_micros · $13 estimated · $14 outcome ·
 * $15 stream · $16 latency_ms · $17 now (epoch ms: created_at, and the UTC day
 * of the daily spend)
 */
export const COMMIT_USAGE: NamedStatement = {
  name: "ledger_commit_usage",
  text: `
WITH recorded AS (
  INSERT INTO usage_records (request_id, account, key_id, model_id, provider_address, upstream_id,
    prompt_tokens, completion_tokens, cached_prompt_tokens, reasoning_tokens, cost_micros,
    estimated, outcome, stream, latency_ms, created_at)
  SELECT $1, k.account, k.id, $5, $6, $7::uuid, $8, $9, $10, $11, $12::numeric,
         $13, $14, $15, $16, ${timestampFromEpochMs("$17::int8")}
  FROM api_keys k
  WHERE k.id = $4::uuid AND k.account = $3
  ON CONFLICT (request_id) DO NOTHING
  RETURNING account, key_id, cost_micros
),
released AS (
  DELETE FROM holds h
  USING recorded r
  WHERE h.id = $2::uuid AND h.account = r.account AND h.key_id = r.key_id
  RETURNING h.amount_micros
),
charged_account AS (
  UPDATE account_balances b
  SET held_micros = b.held_micros - COALESCE((SELECT amount_micros FROM released), 0),
      unsettled_micros = b.unsettled_micros + r.cost_micros
  FROM recorded r
  WHERE b.account = r.account
  RETURNING b.account
),
charged_key AS (
  UPDATE api_key_spend s
  SET held_micros = s.held_micros - COALESCE((SELECT amount_micros FROM released), 0),
      total_spent_micros = s.total_spent_micros + r.cost_micros,
      day_spent_micros = CASE WHEN s.spend_day >= ${utcDayFromEpochMs("$17::int8")} THEN s.day_spent_micros ELSE 0 END
                         + r.cost_micros,
      spend_day = GREATEST(s.spend_day, ${utcDayFromEpochMs("$17::int8")})
  FROM recorded r, charged_account
  WHERE s.key_id = r.key_id
)
SELECT count(*)::int AS recorded FROM recorded`,
};

/** COMMIT_USAGE's parameters: plain strings, numbers and booleans. */
export function commitUsageValues(record: UsageRecordInput, nowMs: number): unknown[] {
  return [
    record.requestId,
    record.holdId,
    record.account,
    record.keyId,
    record.modelId,
    record.providerAddress,
    record.upstreamId,
    record.usage.promptTokens,
    record.usage.completionTokens,
    record.cachedPromptTokens,
    record.reasoningTokens,
    record.costMicros.toString(),
    record.estimated,
    record.outcome,
    record.stream,
    Math.round(record.latencyMs),
    nowMs,
  ];
}

export interface CommitUsageRow {
  /** 1 if this statement wrote the record, 0 if it was already there or the key is not the account's. */
  recorded: number;
}
