import type { Database } from "../../persistence";
import { applyChainTickIn } from "../../persistence/chain/applyChainTick";
import { lockCursor } from "../../persistence/chain/chainCursor";
import { inTransaction } from "../../persistence/chain/transaction";
import { pgPoolOf } from "../../persistence/pgPool";
import { HARDHAT_CHAIN_ID } from "./hardhatNode";

export class ForeignChainDatabaseError extends Error {
  override name = "ForeignChainDatabaseError";
}

/**
 * The local chain lives in memory: every `shareai start` begins a new one,
 * while the database persists. Before the workers start, in one transaction:
 *
 * - the chain watcher's mirror of the previous chain is rolled back to before
 *   the escrow's deployment, exactly as the watcher rolls back a replaced
 *   escrow (`applyChainTickIn`: balances, settlements and earnings forgotten,
 *   and what each settlement took off `unsettled_micros` given back);
 * - what the settlement worker recorded about the previous chain is forgotten
 *   (vouchers, their settlements, transactions, the submitter's nonce,
 *   shortfalls), and usage records are unlinked from those vouchers.
 *
 * The ledger and the new chain then agree: usage of earlier runs is owed
 * again and is settled again on the new chain. Keys, models, providers and
 * usage history stay.
 *
 * Refuses a database that follows another chain than the local one: that is
 * a real deployment's, and its records must not be touched.
 */
export async function resetForNewLocalChain(
  database: Database,
): Promise<{ vouchersForgotten: number; mirrorRolledBack: boolean }> {
  const existing = await database.chain.cursor();
  if (existing && existing.chainId !== HARDHAT_CHAIN_ID) {
    throw new ForeignChainDatabaseError(
      `this database follows chain ${existing.chainId} (escrow ${existing.escrow}); a local chain would rewrite its ` +
        "settlement records. Use another database for the local network, or set RPC_URL to that chain.",
    );
  }
  return inTransaction(pgPoolOf(database.dataSource), async (tx) => {
    const cursor = await lockCursor(tx);
    let mirrorRolledBack = false;
    if (cursor && cursor.blockNumber >= cursor.deploymentBlock) {
      const beforeDeployment = { blockNumber: cursor.deploymentBlock - 1, blockHash: null };
      await applyChainTickIn(tx, {
        expectedCursor: cursor,
        rollbackAfter: beforeDeployment.blockNumber,
        events: [],
        newCursor: beforeDeployment,
        blocks: [],
        forgetBelow: beforeDeployment.blockNumber,
      });
      mirrorRolledBack = true;
    }
    const { rows } = await tx.query<{ count: string }>("SELECT count(*)::text AS count FROM vouchers");
    await tx.query("UPDATE usage_records SET voucher_id = NULL WHERE voucher_id IS NOT NULL");
    await tx.query("DELETE FROM voucher_settlements");
    await tx.query("DELETE FROM settlement_transactions");
    await tx.query("DELETE FROM vouchers");
    await tx.query("DELETE FROM settlement_submitters");
    await tx.query("UPDATE account_balances SET settlement_shortfall_base = 0 WHERE settlement_shortfall_base <> 0");
    return { vouchersForgotten: Number(rows[0].count), mirrorRolledBack };
  });
}
