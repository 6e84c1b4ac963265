/**
 * Results of receipt verification, x402-style: a check either states a fact in plain words or
 * names why the receipt is not proven, with a string constant a program can switch on and a
 * detail a person can read.
 */

export const INVALID_REASONS = [
  /** The bundle names another escrow or chain than the one the verifier reads. */
  "escrow_mismatch",
  /** The receipt's payer or provider is not the voucher's. */
  "voucher_parties_mismatch",
  /** The proof does not lead from the receipt to the voucher's usage root. */
  "receipt_not_in_voucher",
  /** The signature is not one the escrow accepts (length, v, malleable s). */
  "invalid_signature",
  /** The signature recovers to someone other than the stated signer. */
  "signer_mismatch",
  /** The signer is not (or no longer) an authorised settlement signer of the escrow. */
  "signer_not_authorized",
  /** No `Settled` event of the pair carries the voucher's usage root. */
  "voucher_not_settled",
  /** The bundle's settlement transaction is not the one that carries the usage root. */
  "settlement_tx_mismatch",
  /** The escrow has paid the pair less than the voucher states (a deposit ran short). */
  "voucher_not_fully_paid",
] as const;

export type InvalidReason = (typeof INVALID_REASONS)[number];

/** The outcome of one check. */
export type CheckResult = { ok: true; fact: string } | { ok: false; invalidReason: InvalidReason; detail: string };

/**
 * The outcome of verifying a receipt. On failure, `facts` holds what the checks before the
 * failing one did prove, so a caller can say how far the receipt got.
 */
export type VerifyReceiptResult =
  | { isValid: true; facts: string[] }
  | { isValid: false; invalidReason: InvalidReason; detail: string; facts: string[] };

export function proven(fact: string): CheckResult {
  return { ok: true, fact };
}

export function notProven(invalidReason: InvalidReason, detail: string): CheckResult {
  return { ok: false, invalidReason, detail };
}

/** Hex values (addresses, hashes) compared as values, whatever their casing. */
export function sameHex(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
