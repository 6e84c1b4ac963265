import type { UsageRecordInput } from "../../domain/ports";
import type { NamedStatement } from "../pgPool";
import { timestampFromEpochMs, utcDayFromEpochMs } from "./ledgerSql";

/**
 * COMMIT_USAGE for many requests at once: one statement, one transaction, one
 * WAL flush and one lock of each balance row for a whole batch of commits.
 * The rules are those of COMMIT_USAGE (see there); what a batch adds is lock
 * order across rows:
 * - usage rows are inserted in request-id order (the caller sorts and
 *   de-duplicates), so two batches that share requests wait on each other in
 *   the same order instead of deadlocking;
 * - balance rows, then key-spend rows, are locked in key order by the
 *   `locked_…` CTEs before they are updated. Every other statement locks at
 *   most one balance row and then one key row, so no cycle can form.
 *
 * Synchronous, as COMMIT_USAGE.
 *
 * The batch is ONE json parameter, an array of objects, one per request, with
 * the usage_records columns as keys (see `commitUsageBatchValues`): one
 * `JSON.stringify` in the gateway instead of node-postgres escaping sixteen
 * arrays element by element. json_to_recordset reads each field with its
 * column's type; costs travel as JSON strings of decimal digits, so no float
 * touches them.
 *
 * Result: one row, how many records this statement wrote. When that is fewer
 * than the batch, the caller asks RECORDED_REQUESTS which of them exist: those
 * were written before (a repeated commit); the others name a key that is not
 * their account's.
 *
 * $1 the records (json) · $2 now (epoch ms: created_at, and the UTC day of the
 * daily spend)
 */
export const COMMIT_USAGE_BATCH: NamedStatement = {
  name: "ledger_commit_usage_batch",
  text: `
WITH input AS (
  SELECT *
  FROM json_to_recordset($1::json)
    AS t(request_id text, hold_id uuid, account text, key_id uuid, model_id text, provider_address text,
         upstream_id uuid, prompt_tokens int, completion_tokens int, cached_prompt_tokens int,
         reasoning_tokens int, cost_micros numeric, estimated bool, outcome text, stream bool, latency_ms int)
),
recorded AS (
  INSERT INTO usage_records (request_id, account, key_id, model_id, provider_address, upstream_id,
    prompt_tokens, completion_tokens, cached_prompt_tokens, reasoning_tokens, cost_micros,
    estimated, outcome, stream, latency_ms, created_at)
  SELECT i.request_id, k.account, k.id, i.model_id, i.provider_address, i.upstream_id,
         i.prompt_tokens, i.completion_tokens, i.cached_prompt_tokens, i.reasoning_tokens, i.cost_micros,
         i.estimated, i.outcome, i.stream, i.latency_ms, ${timestampFromEpochMs("$2::int8")}
  FROM input i
  JOIN api_keys k ON k.id = i.key_id AND k.account = i.account
  ORDER BY i.request_id
  ON CONFLICT (request_id) DO NOTHING
  RETURNING request_id, account, key_id, cost_micros
),
released AS (
  DELETE FROM holds h
  USING recorded r JOIN input i ON i.request_id = r.request_id
  WHERE h.id = i.hold_id AND h.account = r.account AND h.key_id = r.key_id
  RETURNING h.account, h.key_id, h.amount_micros
),
account_changes AS (
  SELECT r.account, sum(r.cost_micros) AS charged_micros,
         COALESCE((SELECT sum(x.amount_micros) FROM released x WHERE x.account = r.account), 0) AS returned_micros
  FROM recorded r
  GROUP BY r.account
),
locked_accounts AS (
  SELECT b.account
  FROM account_balances b JOIN account_changes c ON c.account = b.account
  ORDER BY b.account
  FOR NO KEY UPDATE OF b
),
charged_accounts AS (
  UPDATE account_balances b
  SET held_micros = b.held_micros - c.returned_micros,
      unsettled_micros = b.unsettled_micros + c.charged_micros
  FROM account_changes c JOIN locked_accounts l ON l.account = c.account
  WHERE b.account = c.account
  RETURNING b.account
),
key_changes AS (
  SELECT r.key_id, sum(r.cost_micros) AS charged_micros,
         COALESCE((SELECT sum(x.amount_micros) FROM released x WHERE x.key_id = r.key_id), 0) AS returned_micros
  FROM recorded r
  GROUP BY r.key_id
),
locked_keys AS (
  SELECT s.key_id
  FROM api_key_spend s
  JOIN key_changes c ON c.key_id = s.key_id
  CROSS JOIN (SELECT count(*) FROM charged_accounts) AS after_the_accounts
  ORDER BY s.key_id
  FOR NO KEY UPDATE OF s
),
charged_keys AS (
  UPDATE api_key_spend s
  SET held_micros = s.held_micros - c.returned_micros,
      total_spent_micros = s.total_spent_micros + c.charged_micros,
      day_spent_micros = CASE WHEN s.spend_day >= ${utcDayFromEpochMs("$2::int8")} THEN s.day_spent_micros ELSE 0 END
                         + c.charged_micros,
      spend_day = GREATEST(s.spend_day, ${utcDayFromEpochMs("$2::int8")})
  FROM key_changes c JOIN locked_keys l ON l.key_id = c.key_id
  WHERE s.key_id = c.key_id
)
SELECT count(*)::int AS recorded FROM recorded`,
};

/** COMMIT_USAGE_BATCH's parameters for `records` (sorted by request id, without repeats). */
export function commitUsageBatchValues(records: readonly UsageRecordInput[], nowMs: number): unknown[] {
  const input = records.map((record) => ({
    request_id: record.requestId,
    hold_id: record.holdId,
    account: record.account,
    key_id: record.keyId,
    model_id: record.modelId,
    provider_address: record.providerAddress,
    upstream_id: record.upstreamId,
    prompt_tokens: record.usage.promptTokens,
    completion_tokens: record.usage.completionTokens,
    cached_prompt_tokens: record.cachedPromptTokens,
    reasoning_tokens: record.reasoningTokens,
    cost_micros: record.costMicros.toString(),
    estimated: record.estimated,
    outcome: record.outcome,
    stream: record.stream,
    latency_ms: Math.round(record.latencyMs),
  }));
  return [JSON.stringify(input), nowMs];
}

/** Which of the given requests already have a usage record. */
export const RECORDED_REQUESTS: NamedStatement = {
  name: "ledger_recorded_requests",
  text: `SELECT request_id FROM usage_records WHERE request_id = ANY($1::text[])`,
};
