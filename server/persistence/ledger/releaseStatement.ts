import type { NamedStatement } from "../pgPool";
import { ASYNC_COMMIT_CTE } from "./ledgerSql";

/**
 * Deletes a hold and gives its amount back to the account and the key, in one
 * statement. Only the transaction whose DELETE returned the row gives anything
 * back: a second release, the sweeper racing a commit, or a release after the
 * commit all find no row and change nothing.
 *
 * Row locks come in the order hold → balance → key spend, as in commit.
 *
 * Commits asynchronously (`async_commit`, ledgerSql.ts): the DELETE joins it,
 * and the UPDATEs hang off the DELETE. A release lost in a crash of Postgres
 * only brings the hold back until the sweeper releases it at its expiry: the
 * safe direction (docs/ledger.md, "Holds commit asynchronously").
 *
 * $1 hold_id
 */
export const RELEASE_HOLD: NamedStatement = {
  name: "ledger_release_hold",
  text: `
WITH ${ASYNC_COMMIT_CTE},
released AS (
  DELETE FROM holds h USING async_commit
  WHERE h.id = $1::uuid
  RETURNING h.account, h.key_id, h.amount_micros
),
returned_to_account AS (
  UPDATE account_balances b SET held_micros = b.held_micros - r.amount_micros
  FROM released r
  WHERE b.account = r.account
  RETURNING b.account
),
returned_to_key AS (
  UPDATE api_key_spend s SET held_micros = s.held_micros - r.amount_micros
  FROM released r, returned_to_account
  WHERE s.key_id = r.key_id
)
SELECT count(*)::int AS released FROM released`,
};

export interface ReleaseHoldRow {
  released: number;
}

/** Holds past their expiry, oldest first: those of requests whose instance never ended them. */
export const EXPIRED_HOLDS: NamedStatement = {
  name: "ledger_expired_holds",
  text: `SELECT id FROM holds WHERE expires_at <= $1::timestamptz ORDER BY expires_at LIMIT $2`,
};
