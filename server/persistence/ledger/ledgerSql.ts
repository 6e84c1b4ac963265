/**
 * SQL pieces shared by the ledger's statements. They are spliced into the
 * statement texts once, when the modules load: every statement is still one
 * constant text, prepared once per connection under its name.
 */

/**
 * A time sent as epoch milliseconds (an integer, `Date.getTime()`), given as
 * an int8 SQL expression (a parameter such as `$6::int8`, or a column), as a
 * timestamptz. Exact to the millisecond: `'1 millisecond'`
 * is 1,000 µs with no month or day part, and 1,000 × any millisecond count a
 * JavaScript Date can hold is an integer below 2^53, so the product and the
 * sum are exact (no float rounding, whatever the session's TimeZone). A number
 * costs the client one `toString()`, where a Date costs pg's `dateToString`.
 */
export function timestampFromEpochMs(epochMs: string): string {
  return `(timestamptz 'epoch' + ${epochMs} * interval '1 millisecond')`;
}

/** The UTC calendar day (a key's daily-cap day) of an epoch-milliseconds time, as `timestampFromEpochMs` takes it. */
export function utcDayFromEpochMs(epochMs: string): string {
  return `(${timestampFromEpochMs(epochMs)} AT TIME ZONE 'UTC')::date`;
}

/**
 * A CTE that turns `synchronous_commit` off for the statement's own
 * transaction: `set_config(…, is_local => true)` is `SET LOCAL`, which ends
 * with the transaction, so the pooled connection's next statement runs with
 * its own setting again. A statement outside BEGIN is its own implicit
 * transaction, which commits when the statement ends (at Sync).
 *
 * A CTE that calls a volatile function is never inlined: it is evaluated when
 * a query scans it. A statement using this must join it into the rows that
 * every one of its writes derives from, so that it cannot write without having
 * evaluated it (a statement that writes nothing has nothing to flush anyway).
 * Tested in test/server/persistence/ledgerStatements.test.ts.
 *
 * Only for holds and releases: see "Holds commit asynchronously" in
 * docs/ledger.md. A usage record must stay synchronous.
 */
export const ASYNC_COMMIT_CTE = `async_commit AS (SELECT set_config('synchronous_commit', 'off', true) AS synchronous_commit)`;
