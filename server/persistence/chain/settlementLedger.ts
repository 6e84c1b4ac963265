import type { ClientBase } from "pg";
import { MICROS_PER_BASE } from "../../domain/ledger/balance";
import { normalizeAddress } from "../address";

/**
 * How a `Settled` event reaches the ledger. Usage is charged to
 * `account_balances.unsettled_micros` when it is metered; once the escrow has
 * paid for it, it is no longer unsettled. The chain watcher calls
 * `applySettlementToLedger` for every `Settled` event it applies, in the same
 * transaction that lowers the payer's on-chain available balance by `paid`, so
 * the payer's spendable (`available × 10^6 − unsettled − held`) does not move:
 * the money only changed from "owed" to "paid". The settlement worker never
 * does this itself; it relies on the watcher.
 */

/**
 * Takes `paidBase × 10^6` micros off `payer`'s unsettled usage, never below 0
 * (the chain may pay for usage this database never metered, e.g. vouchers of an
 * earlier database). Resolves to the micros actually taken off, which the
 * caller records so that a rollback gives back exactly that. An address without
 * an account has no unsettled usage: 0. Locks the payer's balance row: callers
 * that lock several take them in account order (docs/ledger.md, "No deadlocks").
 */
export async function applySettlementToLedger(tx: ClientBase, payer: string, paidBase: bigint): Promise<bigint> {
  if (paidBase < 0n) throw new RangeError(`a settlement pays a positive amount, got ${paidBase}`);
  const { rows } = await tx.query<{ taken_micros: string }>(
    `WITH locked AS (
       SELECT account, LEAST(unsettled_micros, $2::numeric) AS taken_micros
       FROM account_balances WHERE account = $1
       FOR NO KEY UPDATE
     )
     UPDATE account_balances b
     SET unsettled_micros = b.unsettled_micros - l.taken_micros, updated_at = now()
     FROM locked l
     WHERE b.account = l.account
     RETURNING l.taken_micros`,
    [normalizeAddress(payer), (paidBase * MICROS_PER_BASE).toString()],
  );
  return rows.length === 0 ? 0n : BigInt(rows[0].taken_micros);
}

/** Undoes `applySettlementToLedger` when its event is rolled back: gives back the micros it took. */
export async function revertSettlementFromLedger(tx: ClientBase, payer: string, takenMicros: bigint): Promise<void> {
  if (takenMicros === 0n) return;
  await tx.query(
    `UPDATE account_balances SET unsettled_micros = unsettled_micros + $2::numeric, updated_at = now()
     WHERE account = $1`,
    [normalizeAddress(payer), takenMicros.toString()],
  );
}
