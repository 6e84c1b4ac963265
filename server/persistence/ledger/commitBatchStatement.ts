import type { NamedStatement } from "../pgPool";

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
 * $1…$16 parallel arrays, one element per request (request_id, hold_id, account,
 * key_id, model_id, provider_address, upstream_id, prompt, completion, cached,
 * reasoning, cost_micros, estimated, outcome, stream, latency_ms) ·
 * $17 created_at · $18 the current UTC day
 */
export const COMMIT_USAGE_BATCH: NamedStatement = {
  name: "ledger_commit_usage_batch",
  text: `
WITH input AS (
  SELECT *
  FROM unnest($1::text[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::uuid[],
              $8::int[], $9::int[], $10::int[], $11::int[], $12::numeric[], $13::bool[], $14::text[],
              $15::bool[], $16::int[])
    AS t(request_id, hold_id, account, key_id, model_id, provider_address, upstream_id,
         prompt_tokens, completion_tokens, cached_prompt_tokens, reasoning_tokens, cost_micros,
         estimated, outcome, stream, latency_ms)
),
recorded AS (
  INSERT INTO usage_records (request_id, account, key_id, model_id, provider_address, upstream_id,
    prompt_tokens, completion_tokens, cached_prompt_tokens, reasoning_tokens, cost_micros,
    estimated, outcome, stream, latency_ms, created_at)
  SELECT i.request_id, k.account, k.id, i.model_id, i.provider_address, i.upstream_id,
         i.prompt_tokens, i.completion_tokens, i.cached_prompt_tokens, i.reasoning_tokens, i.cost_micros,
         i.estimated, i.outcome, i.stream, i.latency_ms, $17::timestamptz
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
      day_spent_micros = CASE WHEN s.spend_day >= $18::date THEN s.day_spent_micros ELSE 0 END + c.charged_micros,
      spend_day = GREATEST(s.spend_day, $18::date)
  FROM key_changes c JOIN locked_keys l ON l.key_id = c.key_id
  WHERE s.key_id = c.key_id
)
SELECT request_id FROM recorded`,
};

/** Which of the given requests already have a usage record. */
export const RECORDED_REQUESTS: NamedStatement = {
  name: "ledger_recorded_requests",
  text: `SELECT request_id FROM usage_records WHERE request_id = ANY($1::text[])`,
};
