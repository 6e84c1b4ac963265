import { checkEscrowMatches } from "./checks/escrowMatches";
import { checkReceiptInVoucher } from "./checks/receiptInVoucher";
import { checkSettledAmount } from "./checks/settledAmount";
import { checkSettledEvent } from "./checks/settledEvent";
import { checkSignerAuthorized } from "./checks/signerAuthorized";
import { checkVoucherParties } from "./checks/voucherParties";
import { checkVoucherSignature } from "./checks/voucherSignature";
import type { EscrowChain } from "./escrowChain";
import type { ReceiptBundle } from "./receiptBundle";
import type { CheckResult, VerifyReceiptResult } from "./verification";

type Check = (bundle: ReceiptBundle) => CheckResult | Promise<CheckResult>;

/** What can be proven from the bundle alone: the receipt is in the voucher, and who signed it. */
const OFFLINE_CHECKS: readonly Check[] = [checkVoucherParties, checkReceiptInVoucher, checkVoucherSignature];

/** Runs `checks` in order and stops at the first that fails, keeping the facts proven before it. */
async function runChecks(bundle: ReceiptBundle, checks: readonly Check[]): Promise<VerifyReceiptResult> {
  const facts: string[] = [];
  for (const check of checks) {
    const result = await check(bundle);
    if (!result.ok) return { isValid: false, invalidReason: result.invalidReason, detail: result.detail, facts };
    facts.push(result.fact);
  }
  return { isValid: true, facts };
}

/**
 * Checks a receipt bundle without the chain: the receipt is a leaf of the voucher's usage root
 * and the voucher is signed, in a form the escrow accepts, by the stated signer. It does not say
 * whether that signer is trusted or whether anything was paid; {@link verifyReceipt} does.
 */
export function verifyReceiptOffline(bundle: ReceiptBundle): Promise<VerifyReceiptResult> {
  return runChecks(bundle, OFFLINE_CHECKS);
}

/**
 * Checks a receipt bundle against the escrow `chain` reads: the offline checks, then that the
 * signer is authorised there, that a `Settled` event carries the voucher's usage root, and that
 * the pair's settled amount covers the voucher. Cheap local checks run first, so a forged bundle
 * costs no RPC calls. Throws only if the chain cannot be read (that is no verdict).
 */
export function verifyReceipt(bundle: ReceiptBundle, chain: EscrowChain): Promise<VerifyReceiptResult> {
  return runChecks(bundle, [
    (b) => checkEscrowMatches(b, chain),
    ...OFFLINE_CHECKS,
    (b) => checkSignerAuthorized(b, chain),
    (b) => checkSettledEvent(b, chain),
    (b) => checkSettledAmount(b, chain),
  ]);
}
