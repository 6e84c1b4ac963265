import { escrowDomain, recoverVoucherSigner, signatureMalformation } from "../../chain/voucher";
import { baseUnitsToUsdc } from "../../domain/money/usdcDecimal";
import type { ReceiptBundle } from "../receiptBundle";
import { notProven, proven, sameHex, type CheckResult } from "../verification";

/**
 * The voucher's EIP-712 signature, under the escrow's domain, recovers to the stated signer, and
 * is in the exact form the escrow accepts (so "valid" here means "settleable" there).
 */
export function checkVoucherSignature(bundle: ReceiptBundle): CheckResult {
  const { voucher, signature, signer, escrow } = bundle;
  const problem = signatureMalformation(signature);
  if (problem) return notProven("invalid_signature", problem);
  let recovered: string;
  try {
    recovered = recoverVoucherSigner(escrowDomain(escrow.chainId, escrow.address), voucher, signature);
  } catch (error) {
    // An r that is no curve point's x passes every range check yet recovers to nobody.
    return notProven("invalid_signature", `the signature recovers to no address (${(error as Error).message})`);
  }
  if (!sameHex(recovered, signer)) {
    return notProven(
      "signer_mismatch",
      `the signature recovers to ${recovered}, not to the stated signer ${signer} (or the voucher was altered)`,
    );
  }
  return proven(
    `The voucher (${voucher.payer} owes ${voucher.provider} ${baseUnitsToUsdc(
      voucher.cumulativeAmount,
    )} USDC in total) ` + `is signed by ${recovered} for escrow ${escrow.address} on chain ${escrow.chainId}.`,
  );
}
