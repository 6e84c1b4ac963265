import type { SettlementContext, TickReport } from "./settlementContext";

/**
 * Step (d), the collecting half: an account the escrow could not charge in full (its
 * `settlement_shortfall_base`, which stops its spending) is charged again as soon as the escrow
 * holds anything of it: its partly paid vouchers go back to pending and the submit step sends
 * them; the escrow pays only what is still due. The shortfall clears when the pair is paid up
 * (recomputed from the settlements when the transaction is mined).
 */
export async function collectShortfalls(context: SettlementContext, report: TickReport): Promise<void> {
  const { chain, vouchers, logger } = context;
  for (const { account, shortfallBase } of await vouchers.shortfalls()) {
    const { availableBase, thawingBase } = await chain.balanceOf(account);
    if (availableBase + thawingBase === 0n) continue;
    const requeued = await vouchers.requeueShort(account);
    report.vouchersRequeued += requeued;
    if (requeued) {
      logger.info(
        {
          account,
          shortfallBase: shortfallBase.toString(),
          availableBase: availableBase.toString(),
          vouchers: requeued,
        },
        "collecting a shortfall",
      );
    }
  }
}
