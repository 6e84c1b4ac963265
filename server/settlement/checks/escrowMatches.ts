import type { ReceiptBundle } from "../receiptBundle";
import type { EscrowChain } from "../escrowChain";
import { notProven, proven, sameHex, type CheckResult } from "../verification";

/**
 * The bundle's escrow is the one the verifier reads. Without this a forged bundle could name a
 * contract of its own that calls any signer authorised and any voucher settled.
 */
export function checkEscrowMatches(bundle: ReceiptBundle, chain: Pick<EscrowChain, "escrow">): CheckResult {
  const stated = bundle.escrow;
  const read = chain.escrow;
  if (!sameHex(stated.address, read.address) || stated.chainId !== read.chainId) {
    return notProven(
      "escrow_mismatch",
      `the bundle names escrow ${stated.address} on chain ${stated.chainId}, but this check reads escrow ${read.address} on chain ${read.chainId}`,
    );
  }
  return proven(`The voucher is for escrow ${read.address} on chain ${read.chainId}, the escrow this check reads.`);
}
