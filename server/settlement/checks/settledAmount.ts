import { baseUnitsToUsdc } from "../../domain/money/usdcDecimal";
import type { EscrowChain } from "../escrowChain";
import type { ReceiptBundle } from "../receiptBundle";
import { notProven, proven, type CheckResult } from "../verification";

/**
 * What the escrow has paid the pair, in total, covers the voucher: every base unit the voucher
 * states (this receipt's share included) has left the payer's deposit. Read from current state,
 * so a partial payment made whole by a later voucher counts as covered.
 */
export async function checkSettledAmount(
  bundle: ReceiptBundle,
  chain: Pick<EscrowChain, "settledAmount">,
): Promise<CheckResult> {
  const { voucher } = bundle;
  const settled = await chain.settledAmount(voucher.payer, voucher.provider);
  if (settled < voucher.cumulativeAmount) {
    return notProven(
      "voucher_not_fully_paid",
      `the escrow has paid ${baseUnitsToUsdc(settled)} USDC from ${voucher.payer} to ${voucher.provider}, ` +
        `less than the voucher's ${baseUnitsToUsdc(voucher.cumulativeAmount)} USDC`,
    );
  }
  return proven(
    `The escrow has paid ${baseUnitsToUsdc(settled)} USDC in total from ${voucher.payer} to ${voucher.provider}, ` +
      `which covers the voucher's ${baseUnitsToUsdc(voucher.cumulativeAmount)} USDC.`,
  );
}
