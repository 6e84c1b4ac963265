import { baseUnitsToUsdc } from "../../domain/money/usdcDecimal";
import type { EscrowChain } from "../escrowChain";
import type { ReceiptBundle } from "../receiptBundle";
import { notProven, proven, sameHex, type CheckResult } from "../verification";

/**
 * A `Settled` event of the pair carries the voucher's usage root: the escrow accepted the voucher
 * and moved money for it. When the bundle names the paying transaction, it must be that one.
 */
export async function checkSettledEvent(
  bundle: ReceiptBundle,
  chain: Pick<EscrowChain, "findSettledEvent">,
): Promise<CheckResult> {
  const { voucher, settlement } = bundle;
  const hint = settlement ? { txHash: settlement.txHash } : undefined;
  const event = await chain.findSettledEvent(voucher.payer, voucher.provider, voucher.usageRoot, hint);
  if (!event) {
    return notProven(
      "voucher_not_settled",
      `no Settled event of ${voucher.payer} → ${voucher.provider} carries usage root ${voucher.usageRoot} (yet)`,
    );
  }
  if (settlement && !sameHex(settlement.txHash, event.txHash)) {
    return notProven(
      "settlement_tx_mismatch",
      `the bundle says tx ${settlement.txHash} paid the voucher, but the escrow's Settled event for it is in tx ${event.txHash}`,
    );
  }
  const partial =
    event.cumulativeAmount < voucher.cumulativeAmount
      ? ` (a partial payment: the deposit covered the pair up to ${baseUnitsToUsdc(event.cumulativeAmount)} USDC)`
      : "";
  return proven(
    `The escrow paid ${baseUnitsToUsdc(event.paid)} USDC for this voucher in tx ${event.txHash} at block ${
      event.blockNumber
    }${partial}.`,
  );
}
