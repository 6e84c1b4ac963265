import type { ReceiptBundle } from "../receiptBundle";
import { notProven, proven, sameHex, type CheckResult } from "../verification";

/** The receipt's payer and provider are the voucher's: a receipt proves nothing about another pair's payment. */
export function checkVoucherParties(bundle: ReceiptBundle): CheckResult {
  const { receipt, voucher } = bundle;
  if (!sameHex(receipt.payer, voucher.payer)) {
    return notProven(
      "voucher_parties_mismatch",
      `the receipt's payer is ${receipt.payer}, the voucher's ${voucher.payer}`,
    );
  }
  if (!sameHex(receipt.provider, voucher.provider)) {
    return notProven(
      "voucher_parties_mismatch",
      `the receipt's provider is ${receipt.provider}, the voucher's ${voucher.provider}`,
    );
  }
  return proven(
    `The receipt and the voucher are for the same payer ${voucher.payer} and provider ${voucher.provider}.`,
  );
}
