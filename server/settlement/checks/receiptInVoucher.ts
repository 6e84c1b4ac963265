import { microsToUsdc } from "../../domain/money/usdcDecimal";
import type { ReceiptBundle } from "../receiptBundle";
import { isPlausibleProofDepth, verifyUsageProof } from "../usageTree";
import { notProven, proven, type CheckResult } from "../verification";

/** The receipt, with its proof, hashes into the voucher's usage root: this very usage is what the voucher covers. */
export function checkReceiptInVoucher(bundle: ReceiptBundle): CheckResult {
  const { receipt, proof, voucher, receiptCount } = bundle;
  if (!verifyUsageProof(voucher.usageRoot, receipt, proof)) {
    return notProven(
      "receipt_not_in_voucher",
      `the receipt and its ${proof.length}-step proof do not hash to the voucher's usage root ${voucher.usageRoot}`,
    );
  }
  // The count is the gateway's word; the proof's depth is the only part of it we can hold it to.
  if (!isPlausibleProofDepth(receiptCount, proof.length)) {
    return notProven(
      "receipt_not_in_voucher",
      `a tree of ${receiptCount} receipts has no leaf ${proof.length} steps deep; the stated receipt count is wrong`,
    );
  }
  return proven(
    `Request ${receipt.requestId} (${receipt.model}, ${receipt.promptTokens} prompt + ${receipt.completionTokens} ` +
      `completion tokens, ${microsToUsdc(receipt.costMicros)} USDC) is one of ${receiptCount} receipts ` +
      `in the voucher with usage root ${voucher.usageRoot}.`,
  );
}
