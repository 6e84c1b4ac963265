import type { HoldRequest } from "../../domain/ports";
import type { NamedStatement } from "../pgPool";
import { ASYNC_COMMIT_CTE, timestampFromEpochMs, utcDayFromEpochMs } from "./ledgerSql";

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
 * Commits asynchronously, as RESERVE_HOLD does: `running` joins `async_commit`
 * (ledgerSql.ts), and every write hangs off `running`.
 *
 * The group is ONE json parameter, an array of objects in arrival order (see
 * `reserveHoldBatchValues`): one `JSON.stringify` in the gateway instead of
 * node-postgres escaping five arrays element by element. json_to_recordset
 * reads each field with its column's type, as unnest read the arrays; amounts
 * travel as JSON strings of decimal digits, so no float touches them.
 *
 * Result: one row per request, in arrival order (none if the account has no
 * balance row): the hold's id, or the refusal; and what is left after the
 * group's accepted holds: of the account's spendable amount for a placed hold
 * or an `insufficient_balance`, of the key's cap for a cap's refusal.
 *
 * $1 account · $2 the requests (json) · $3 now (epoch ms: created_at, and the
 * UTC day of the daily caps)
 */
export const RESERVE_HOLD_BATCH: NamedStatement = {
  name: "ledger_reserve_hold_batch",
  text: `
WITH ${ASYNC_COMMIT_CTE},
input AS (
  SELECT *
  FROM ROWS FROM (json_to_recordset($2::json)
         AS (request_id text, key_id uuid, model_id text, amount_micros numeric, expires_at_ms int8))
       WITH ORDINALITY AS t(request_id, key_id, model_id, amount_micros, expires_at_ms, ord)
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
           - CASE WHEN s.spend_day >= ${utcDayFromEpochMs("$3::int8")} THEN s.day_spent_micros ELSE 0 END
           AS daily_remaining_micros,
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
  CROSS JOIN async_commit
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
  SELECT d.request_id, $1, d.key_id, i.model_id, d.amount_micros,
         ${timestampFromEpochMs("i.expires_at_ms")}, ${timestampFromEpochMs("$3::int8")}
  FROM decision d JOIN input i ON i.ord = d.ord
  WHERE d.refusal IS NULL
  ORDER BY d.ord
  RETURNING id, request_id
)
SELECT h.id AS hold_id, d.refusal,
       CASE d.refusal
         WHEN 'daily_spend_cap' THEN d.daily_remaining_micros - COALESCE(a.amount_micros, 0)
         WHEN 'total_spend_cap' THEN d.total_remaining_micros - COALESCE(a.amount_micros, 0)
         WHEN 'unknown_key' THEN NULL
         ELSE d.spendable_micros - COALESCE((SELECT sum(amount_micros) FROM accepted_by_key), 0)
       END AS remaining_micros
FROM decision d
LEFT JOIN holds h ON h.request_id = d.request_id
LEFT JOIN accepted_by_key a ON a.key_id = d.key_id
ORDER BY d.ord`,
};

/** RESERVE_HOLD_BATCH's parameters for `requests` (all of `account`), each expiring at its `expiresAtMs[i]`. */
export function reserveHoldBatchValues(
  account: string,
  requests: readonly HoldRequest[],
  nowMs: number,
  expiresAtMs: readonly number[],
): unknown[] {
  const input = requests.map((request, index) => ({
    request_id: request.requestId,
    key_id: request.keyId,
    model_id: request.modelId,
    amount_micros: request.amountMicros.toString(),
    expires_at_ms: expiresAtMs[index],
  }));
  return [account, JSON.stringify(input), nowMs];
}

export interface ReserveHoldBatchRow {
  hold_id: string | null;
  refusal: "unknown_key" | "insufficient_balance" | "daily_spend_cap" | "total_spend_cap" | null;
  /** After the group's accepted holds: placed, what the account can still spend; refused, what its rule had left. */
  remaining_micros: string | null;
}
