import type { NamedStatement } from "../pgPool";

/**
 * RESERVE_HOLD for several requests of ONE account at once: the account's
 * balance row is locked once for the whole group instead of once per request,
 * which is what a busy account's requests would otherwise queue on.
 *
 * Locks: the balance row first, then the keys' spend rows in key order (the
 * CROSS JOIN makes the key locks wait for the balance lock), the same
 * balance → key order as every other ledger statement.
 *
 * Decision, in arrival order (`ord`): a request fits when the running total of
 * the group's amounts up to and including it stays within the account's
 * spendable amount, and the running total of its key's amounts within the
 * key's caps. Refused requests still count in the running totals of those
 * after them, so within one group the rule can refuse a request that a
 * one-by-one order would have let in, never the reverse: the holds placed never
 * exceed what is spendable.
 *
 * Refusal figures are what remains after the group's accepted holds.
 *
 * $1 account · $2 request_ids · $3 key_ids · $4 model_ids · $5 amounts_micros ·
 * $6 expires_ats (arrays in arrival order) · $7 the current UTC day · $8 created_at
 */
export const RESERVE_HOLD_BATCH: NamedStatement = {
  name: "ledger_reserve_hold_batch",
  text: `
WITH input AS (
  SELECT *
  FROM unnest($2::text[], $3::uuid[], $4::text[], $5::numeric[], $6::timestamptz[]) WITH ORDINALITY
    AS t(request_id, key_id, model_id, amount_micros, expires_at, ord)
),
locked_account AS (
  -- A shortfall (the escrow could not pay a voucher in full) stops spending until it is collected.
  SELECT LEAST(b.onchain_available_base * 1000000 - b.unsettled_micros - b.held_micros,
               CASE WHEN b.settlement_shortfall_base > 0 THEN 0 END) AS spendable_micros
  FROM account_balances b
  WHERE b.account = $1
  FOR NO KEY UPDATE
),
locked_keys AS (
  SELECT s.key_id,
         k.daily_spend_cap_base * 1000000 - s.held_micros
           - CASE WHEN s.spend_day >= $7::date THEN s.day_spent_micros ELSE 0 END AS daily_remaining_micros,
         k.total_spend_cap_base * 1000000 - s.held_micros - s.total_spent_micros AS total_remaining_micros
  FROM api_key_spend s
  JOIN api_keys k ON k.id = s.key_id
  CROSS JOIN (SELECT count(*) FROM locked_account) AS after_the_account
  WHERE k.account = $1 AND s.key_id IN (SELECT key_id FROM input)
  ORDER BY s.key_id
  FOR NO KEY UPDATE OF s
),
running AS (
  SELECT i.ord, i.request_id, i.key_id, i.amount_micros, a.spendable_micros,
         k.daily_remaining_micros, k.total_remaining_micros, k.key_id IS NOT NULL AS known_key,
         sum(i.amount_micros) OVER (ORDER BY i.ord) AS account_running_micros,
         sum(i.amount_micros) OVER (PARTITION BY i.key_id ORDER BY i.ord) AS key_running_micros
  FROM input i
  CROSS JOIN locked_account a
  LEFT JOIN locked_keys k ON k.key_id = i.key_id
),
decision AS (
  SELECT r.*,
         CASE WHEN NOT r.known_key THEN 'unknown_key'
              WHEN r.daily_remaining_micros < r.key_running_micros THEN 'daily_spend_cap'
              WHEN r.total_remaining_micros < r.key_running_micros THEN 'total_spend_cap'
              WHEN r.spendable_micros < r.account_running_micros THEN 'insufficient_balance'
         END AS refusal
  FROM running r
),
accepted_by_key AS (
  SELECT key_id, sum(amount_micros) AS amount_micros FROM decision WHERE refusal IS NULL GROUP BY key_id
),
held_by_account AS (
  UPDATE account_balances b
  SET held_micros = b.held_micros + (SELECT sum(amount_micros) FROM accepted_by_key)
  WHERE b.account = $1 AND EXISTS (SELECT 1 FROM accepted_by_key)
),
held_by_keys AS (
  UPDATE api_key_spend s
  SET held_micros = s.held_micros + a.amount_micros
  FROM accepted_by_key a
  WHERE s.key_id = a.key_id
),
holds AS (
  INSERT INTO holds (request_id, account, key_id, model_id, amount_micros, expires_at, created_at)
  SELECT d.request_id, $1, d.key_id, i.model_id, d.amount_micros, i.expires_at, $8::timestamptz
  FROM decision d JOIN input i ON i.ord = d.ord
  WHERE d.refusal IS NULL
  ORDER BY d.ord
  RETURNING id, request_id
)
SELECT d.ord, d.refusal, h.id AS hold_id,
       d.spendable_micros - COALESCE((SELECT sum(amount_micros) FROM accepted_by_key), 0) AS spendable_micros,
       d.daily_remaining_micros - COALESCE(a.amount_micros, 0) AS daily_remaining_micros,
       d.total_remaining_micros - COALESCE(a.amount_micros, 0) AS total_remaining_micros
FROM decision d
LEFT JOIN holds h ON h.request_id = d.request_id
LEFT JOIN accepted_by_key a ON a.key_id = d.key_id
ORDER BY d.ord`,
};

export interface ReserveHoldBatchRow {
  ord: string;
  refusal: "unknown_key" | "insufficient_balance" | "daily_spend_cap" | "total_spend_cap" | null;
  hold_id: string | null;
  spendable_micros: string;
  daily_remaining_micros: string | null;
  total_remaining_micros: string | null;
}
