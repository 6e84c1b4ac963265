import type { Voucher } from "../chain/voucher";
import type { Address } from "../domain/types";
import { cumulativeAmountOf, voucherIncrementBase } from "./cumulative";
import type { Receipt } from "./receipt";
import { buildUsageTree, type UsageTree } from "./usageTree";

export interface NextVoucherInput {
  payer: Address;
  provider: Address;
  /** The pair's metered usage up to and including its previous voucher's receipts (0 if none). */
  previousTotalMicros: bigint;
  /** The receipts metered for the pair since its previous voucher. */
  receipts: readonly Receipt[];
}

export interface NextVoucher {
  /** The unsigned voucher: cumulative amount and the usage root of `receipts`. */
  voucher: Voucher;
  /** The pair's metered usage ever, this voucher's receipts included: the next call's `previousTotalMicros`. */
  totalMicros: bigint;
  /** Metered but not yet charged (totalMicros mod 10^6), carried into the next voucher. */
  carriedMicros: bigint;
  /** What this voucher adds to the previous one, in base units. */
  incrementBase: bigint;
  /** The tree of `receipts`, for their proofs. */
  tree: UsageTree;
}

/**
 * The pair's next voucher from exactly the receipts it covers. Deriving the total from the same
 * receipts that go into the root (rather than from a separate sum) keeps the amount and the
 * root about the same usage, even if more requests are being metered meanwhile.
 */
export function buildNextVoucher(input: NextVoucherInput): NextVoucher {
  const { previousTotalMicros, receipts } = input;
  const payer = input.payer.toLowerCase();
  const provider = input.provider.toLowerCase();
  for (const receipt of receipts) {
    if (receipt.payer.toLowerCase() !== payer || receipt.provider.toLowerCase() !== provider) {
      throw new RangeError(`receipt ${receipt.requestId} is not of the pair ${payer} → ${provider}`);
    }
  }
  const totalMicros = receipts.reduce((sum, receipt) => sum + receipt.costMicros, previousTotalMicros);
  const previousCumulativeBase = cumulativeAmountOf(previousTotalMicros).cumulativeAmountBase;
  const incrementBase = voucherIncrementBase(previousCumulativeBase, totalMicros);
  if (incrementBase === 0n) {
    throw new RangeError("the voucher would add nothing: its receipts wait for the next one (see decideVoucher)");
  }
  const { cumulativeAmountBase, carriedMicros } = cumulativeAmountOf(totalMicros);
  const tree = buildUsageTree(receipts);
  return {
    voucher: { payer, provider, cumulativeAmount: cumulativeAmountBase, usageRoot: tree.root },
    totalMicros,
    carriedMicros,
    incrementBase,
    tree,
  };
}
