import type { UnvoucheredPair } from "../../persistence/vouchers/voucherRows";
import { decideVoucher, MICROS_PER_BASE } from "../../settlement/cumulative";
import { buildNextVoucher } from "../../settlement/nextVoucher";
import { unixSeconds } from "../../settlement/receipt";
import type { SettlementContext, TickReport } from "./settlementContext";

/**
 * Step (a): for each (payer, provider) pair with usage not yet in a voucher, decides with
 * `decideVoucher` (threshold or interval) and, when due, builds the pair's next cumulative
 * voucher from exactly the receipts it covers, signs it, and stores it as pending with its
 * receipts linked, in one database transaction. A pair that fails is reported and skipped;
 * the others go on.
 */
export async function buildDueVouchers(context: SettlementContext, report: TickReport): Promise<void> {
  const pairs = await context.vouchers.unvoucheredPairs();
  let next = 0;
  // Pairs are independent (each builds under its own lock), so a few at once keep the database
  // busy while receipts are hashed.
  const lane = async () => {
    while (next < pairs.length) await buildPair(context, report, pairs[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(BUILD_CONCURRENCY, pairs.length) }, lane));
}

const BUILD_CONCURRENCY = 4;

async function buildPair(context: SettlementContext, report: TickReport, pair: UnvoucheredPair): Promise<void> {
  const { vouchers, chain, settings, clock } = context;
  try {
    const decision = decideVoucher({
      previousCumulativeBase: pair.previousCumulativeBase,
      totalMicros: pair.previousTotalMicros + pair.unvoucheredMicros,
      oldestPendingReceiptAt: unixSeconds(pair.oldestUnvoucheredAt),
      now: unixSeconds(clock()),
      thresholdBase: settings.thresholdBase,
      intervalSeconds: Math.floor(settings.intervalMs / 1000),
    });
    if (!decision.build) return;
    const result = await vouchers.buildVoucher(
      pair.payer,
      pair.provider,
      settings.maxReceiptsPerVoucher,
      async ({ previousTotalMicros, receipts }) => {
        const receiptsTotal = receipts.reduce((sum, receipt) => sum + receipt.costMicros, 0n);
        // Capped at maxReceiptsPerVoucher, the oldest receipts may not reach a base unit yet.
        if ((previousTotalMicros + receiptsTotal) / MICROS_PER_BASE <= previousTotalMicros / MICROS_PER_BASE)
          return null;
        const next = buildNextVoucher({ payer: pair.payer, provider: pair.provider, previousTotalMicros, receipts });
        const signature = await chain.signVoucher(next.voucher);
        return {
          cumulativeAmountBase: next.voucher.cumulativeAmount,
          totalMicros: next.totalMicros,
          carriedMicros: next.carriedMicros,
          usageRoot: next.voucher.usageRoot,
          signer: chain.signerAddress,
          signature,
          requestIds: receipts.map((receipt) => receipt.requestId),
        };
      },
    );
    if (result.built) {
      report.vouchersBuilt += 1;
      report.receiptsLinked += result.built.receiptCount;
    }
  } catch (error) {
    report.warnings.push(`pair ${pair.payer} → ${pair.provider}: ${(error as Error).message}`);
  }
}
