import type { SettlementContext, TickReport } from "./settlementContext";
import { signedVoucherOf } from "./submitVouchers";

/** The worker's own signer is not authorised on the escrow: it must not sign or submit anything. */
export class SignerNotAuthorisedError extends Error {
  override name = "SignerNotAuthorisedError";
}

/**
 * Revocation (DESIGN: "the settlement worker re-signs what is still unsettled with the new
 * signer"). Refuses to go on when the worker's own signer is not authorised. Then, for every
 * other signer of vouchers that still have to pay, asks the escrow whether it is still
 * authorised; if not, re-signs those of its vouchers that are not in flight with the worker's
 * key (same voucher, new signature). Vouchers in flight come back to pending when their
 * transaction reverts, and are re-signed then.
 */
export async function resignRevokedVouchers(context: SettlementContext, report: TickReport): Promise<void> {
  const { chain, vouchers, logger } = context;
  if (!(await chain.isSigner(chain.signerAddress))) {
    throw new SignerNotAuthorisedError(
      `the settlement signer ${chain.signerAddress} is not authorised on the escrow ${chain.escrowAddress}: ` +
        "the escrow's owner must call authorizeSigner for it, or SETTLEMENT_SIGNER_KEY must name an authorised key",
    );
  }
  for (const signer of await vouchers.signersOfUnsettled()) {
    if (signer === chain.signerAddress || (await chain.isSigner(signer))) continue;
    const stale = await vouchers.resignable(signer);
    for (const voucher of stale) {
      const signature = await chain.signVoucher(signedVoucherOf(voucher).voucher);
      if (await vouchers.replaceSignature(voucher.id, signer, chain.signerAddress, signature))
        report.vouchersResigned += 1;
    }
    if (stale.length)
      logger.warn(
        { revoked: signer, vouchers: stale.length, signer: chain.signerAddress },
        "re-signed vouchers of a revoked signer",
      );
  }
}
