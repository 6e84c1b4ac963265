import type { NamedStatement } from "../pgPool";

/**
 * Places a hold in one statement, atomically across every gateway instance.
 *
 * `locked` takes the row locks on the account's balance row and the key's spend
 * row, always in that order (the same order as commit and release, so they
 * cannot deadlock). Under READ COMMITTED, a locking read that had to wait for
 * another transaction re-reads the newest committed version of the rows it
 * locked, so the figures it computes are current, not the statement snapshot's.
 * The rules are decided once, in `decision`, from those figures; the UPDATEs
 * apply `+ amount` to the rows this statement already holds locked (Postgres
 * re-evaluates them on the newest version), and the hold row is inserted only
 * when every rule passed. A statement either changes all three or nothing.
 *
 * Figures are in micro base units; `…_base` columns are scaled by 10^6.
 * A null cap gives a null remainder, which no comparison refuses.
 *
 * $1 amount_micros · $2 account · $3 key_id · $4 request_id · $5 model_id ·
 * $6 the current UTC day · $7 expires_at · $8 created_at
 */
export const RESERVE_HOLD: NamedStatement = {
  name: "ledger_reserve_hold",
  text: `
WITH locked AS (
  -- A shortfall (the escrow could not pay a voucher in full) stops spending until it is collected.
  SELECT LEAST(b.onchain_available_base * 1000000 - b.unsettled_micros - b.held_micros,
               CASE WHEN b.settlement_shortfall_base > 0 THEN 0 END) AS spendable_micros,
         k.daily_spend_cap_base * 1000000 - s.held_micros
           - CASE WHEN s.spend_day >= $6::date THEN s.day_spent_micros ELSE 0 END AS daily_remaining_micros,
         k.total_spend_cap_base * 1000000 - s.held_micros - s.total_spent_micros AS total_remaining_micros
  FROM account_balances b
  JOIN api_keys k ON k.account = b.account
  JOIN api_key_spend s ON s.key_id = k.id
  WHERE b.account = $2 AND k.id = $3::uuid
  FOR NO KEY UPDATE OF b, s
),
decision AS (
  SELECT spendable_micros, daily_remaining_micros, total_remaining_micros,
         CASE WHEN daily_remaining_micros < $1::numeric THEN 'daily_spend_cap'
              WHEN total_remaining_micros < $1::numeric THEN 'total_spend_cap'
              WHEN spendable_micros < $1::numeric THEN 'insufficient_balance'
         END AS refusal
  FROM locked
),
held_by_account AS (
  UPDATE account_balances b SET held_micros = b.held_micros + $1::numeric
  FROM decision d
  WHERE b.account = $2 AND d.refusal IS NULL
),
held_by_key AS (
  UPDATE api_key_spend s SET held_micros = s.held_micros + $1::numeric
  FROM decision d
  WHERE s.key_id = $3::uuid AND d.refusal IS NULL
),
hold AS (
  INSERT INTO holds (request_id, account, key_id, model_id, amount_micros, expires_at, created_at)
  SELECT $4, $2, $3::uuid, $5, $1::numeric, $7::timestamptz, $8::timestamptz
  FROM decision d
  WHERE d.refusal IS NULL
  RETURNING id
)
SELECT d.refusal, d.spendable_micros, d.daily_remaining_micros, d.total_remaining_micros, h.id AS hold_id
FROM decision d LEFT JOIN hold h ON true`,
};

export interface ReserveHoldRow {
  refusal: "insufficient_balance" | "daily_spend_cap" | "total_spend_cap" | null;
  spendable_micros: string;
  daily_remaining_micros: string | null;
  total_remaining_micros: string | null;
  hold_id: string | null;
}
