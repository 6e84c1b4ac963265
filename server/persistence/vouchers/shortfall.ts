import type { PoolClient } from "pg";

/**
 * Recomputes `account_balances.settlement_shortfall_base` of each of `accounts` from the vouchers'
 * settlements, inside the caller's transaction: per pair, the highest voucher the escrow has
 * processed minus the pair's settled amount on chain after it, summed over the account's pairs.
 * A derived value, recomputed from scratch, so running it twice or after a reorg is harmless.
 *
 * The ledger's reserve refuses new holds while it is above zero. Balance rows are locked one
 * statement at a time in account order, the order every multi-account ledger statement uses.
 */
export async function refreshShortfalls(client: PoolClient, accounts: Iterable<string>): Promise<void> {
  for (const account of [...new Set(accounts)].sort()) {
    await client.query({
      name: "settlement_refresh_shortfall",
      text: `
UPDATE account_balances b
SET settlement_shortfall_base = COALESCE((
  SELECT sum(GREATEST(p.processed_base - p.settled_base, 0))
  FROM (
    SELECT max(v.cumulative_amount_base) AS processed_base, max(s.settled_after_base) AS settled_base
    FROM vouchers v
    JOIN voucher_settlements s ON s.voucher_id = v.id
    WHERE v.payer = b.account
    GROUP BY v.provider
  ) p
), 0)
WHERE b.account = $1`,
      values: [account],
    });
  }
}
