import type { EscrowChain } from "../escrowChain";
import type { ReceiptBundle } from "../receiptBundle";
import { notProven, proven, type CheckResult } from "../verification";

/**
 * The signer is authorised on the escrow now. A key revoked since (rotated after a compromise)
 * fails here even for vouchers it signed while trusted: after a compromise its signatures prove
 * nothing, and the gateway re-signs what is unsettled with the new key.
 */
export async function checkSignerAuthorized(
  bundle: ReceiptBundle,
  chain: Pick<EscrowChain, "isSigner">,
): Promise<CheckResult> {
  if (!(await chain.isSigner(bundle.signer))) {
    return notProven("signer_not_authorized", `${bundle.signer} is not an authorised settlement signer of the escrow`);
  }
  return proven(`${bundle.signer} is an authorised settlement signer of the escrow.`);
}
