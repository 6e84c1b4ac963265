import type { NamedStatement } from "../pgPool";
import { ASYNC_COMMIT_CTE, timestampFromEpochMs } from "./ledgerSql";

/**
 * Moves a hold's expiry later (never earlier): what a request that is still
 * running does before its hold would expire, so the sweeper never releases
 * the hold of a long stream while it still generates tokens. A hold already
 * committed, released or swept is not there, and nothing changes.
 *
 * Commits asynchronously, like placing the hold (ledgerSql.ts): an extension
 * lost in a crash of Postgres falls back to the earlier expiry, which the next
 * extension moves again.
 *
 * $1 hold_id · $2 the new expiry, epoch milliseconds
 */
export const EXTEND_HOLD: NamedStatement = {
  name: "ledger_extend_hold",
  text: `
WITH ${ASYNC_COMMIT_CTE},
extended AS (
  UPDATE holds h SET expires_at = GREATEST(h.expires_at, ${timestampFromEpochMs("$2::int8")})
  FROM async_commit
  WHERE h.id = $1::uuid
  RETURNING h.id
)
SELECT count(*)::int AS extended FROM extended`,
};

export interface ExtendHoldRow {
  extended: number;
}
