import type { HoldRequest } from "../../domain/ports";
import type { NamedStatement } from "../pgPool";
import { ASYNC_COMMIT_CTE, timestampFromEpochMs, utcDayFromEpochMs } from "./ledgerSql";

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
 * Commits asynchronously (`async_commit`, see ledgerSql.ts): `decision` joins
 * it, and every write hangs off `decision`. Locks and visibility are those of
 * any commit; only the WAL flush is not waited for (docs/ledger.md, "Holds
 * commit asynchronously").
 *
 * Figures are in micro base units; `…_base` columns are scaled by 10^6.
 * A null cap gives a null remainder, which no comparison refuses. The result
 * is one row (none if the account or key has no row): the hold's id and what
 * the account can still spend with it placed, or the refusal and what the
 * refusing rule had left.
 *
 * Built by `reserveHoldValues`: $1 amount_micros · $2 account · $3 key_id ·
 * $4 request_id · $5 model_id · $6 now (epoch ms: created_at, and the UTC day
 * of the daily cap) · $7 expires_at (epoch ms)
 */
export const RESERVE_HOLD: NamedStatement = {
  name: "ledger_reserve_hold",
  text: `
WITH ${ASYNC_COMMIT_CTE},
locked AS (
  -- A shortfall (the escrow could not pay a voucher in full) stops spending until it is collected.
  SELECT LEAST(b.onchain_available_base * 1000000 - b.unsettled_micros - b.held_micros,
               CASE WHEN b.settlement_shortfall_base > 0 THEN 0 END) AS spendable_micros,
         k.daily_spend_cap_base * 1000000 - s.held_micros
           - CASE WHEN s.spend_day >= ${utcDayFromEpochMs("$6::int8")} THEN s.day_spent_micros ELSE 0 END
           AS daily_remaining_micros,
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
  FROM locked CROSS JOIN async_commit
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
  SELECT $4, $2, $3::uuid, $5, $1::numeric, ${timestampFromEpochMs("$7::int8")}, ${timestampFromEpochMs("$6::int8")}
  FROM decision d
  WHERE d.refusal IS NULL
  RETURNING id
)
SELECT h.id AS hold_id, d.refusal,
       CASE d.refusal WHEN 'daily_spend_cap' THEN d.daily_remaining_micros
                      WHEN 'total_spend_cap' THEN d.total_remaining_micros
                      WHEN 'insufficient_balance' THEN d.spendable_micros
                      ELSE d.spendable_micros - $1::numeric
       END AS remaining_micros
FROM decision d LEFT JOIN hold h ON true`,
};

/** RESERVE_HOLD's parameters: plain strings and numbers, which cost node-postgres nothing to prepare. */
export function reserveHoldValues(request: HoldRequest, nowMs: number, expiresAtMs: number): unknown[] {
  return [
    request.amountMicros.toString(),
    request.account,
    request.keyId,
    request.requestId,
    request.modelId,
    nowMs,
    expiresAtMs,
  ];
}

export interface ReserveHoldRow {
  hold_id: string | null;
  refusal: "insufficient_balance" | "daily_spend_cap" | "total_spend_cap" | null;
  /** Placed: what the account can still spend with the hold. Refused: what the refusing rule had left (may be < 0). */
  remaining_micros: string | null;
}
