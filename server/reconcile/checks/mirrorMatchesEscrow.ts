import { compareMirrorWithEscrow, escrowViews } from "../../chain/mirrorCheck";
import { differs, passed, type ReconcileCheck } from "../reconcileCheck";

/**
 * The mirror equals the escrow's own views as of the cursor block, to the base unit: every
 * payer's balance, every pair's `settledAmount`, every payee's `earningsOf` (compareMirrorWithEscrow),
 * and every pair the database holds vouchers for but the mirror has no settlement of reads 0.
 */
export const mirrorMatchesEscrow: ReconcileCheck = {
  name: "mirror-matches-escrow",
  title: "per payer, pair and payee, the escrow's balances, settledAmount and earnings equal the mirror",
  async run({ db, chain, provider, escrowAddress, cursor }) {
    const { rows: voucherPairs } = await db.query<{ payer: string; provider: string }>(
      "SELECT DISTINCT payer, provider FROM vouchers ORDER BY payer, provider",
    );
    const views = escrowViews(provider, escrowAddress);
    const differences = await compareMirrorWithEscrow(
      chain,
      views,
      voucherPairs.map((pair) => pair.payer),
    );
    if (differences.length > 0) {
      const [first] = differences;
      return differs(`${first.what} at block ${cursor.blockNumber}: mirror ${first.mirror}, escrow ${first.chain}` +
        (differences.length > 1 ? ` (and ${differences.length - 1} more differences)` : ""));
    }
    const mirroredPairs = new Set((await chain.pairSettlements()).map((pair) => `${pair.payer}|${pair.provider}`));
    for (const pair of voucherPairs) {
      if (mirroredPairs.has(`${pair.payer}|${pair.provider}`)) continue;
      const settled = await views.settledAmount(pair.payer, pair.provider, cursor.blockNumber);
      if (settled !== 0n) {
        return differs(`settledAmount(${pair.payer}, ${pair.provider}) at block ${cursor.blockNumber}: escrow ${settled}, mirror has no settlement`);
      }
    }
    // One after another: the snapshot is one connection.
    const balances = await chain.payerBalances();
    const pairs = await chain.pairSettlements();
    const earnings = await chain.allEarnings();
    return passed(
      `${balances.length} payer balances, ${pairs.length} pair settled amounts and ${earnings.length} payee earnings equal the escrow's at block ${cursor.blockNumber}`,
    );
  },
};
