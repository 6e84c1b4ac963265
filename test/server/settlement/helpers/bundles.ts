import { Wallet } from "ethers";
import { escrowDomain, signVoucher } from "../../../../server/chain/voucher";
import type { EscrowChain, SettledEventRecord } from "../../../../server/settlement/escrowChain";
import { buildNextVoucher } from "../../../../server/settlement/nextVoucher";
import { RECEIPT_BUNDLE_FORMAT, type ReceiptBundle } from "../../../../server/settlement/receiptBundle";
import { PAYER, PROVIDER, receiptsOf } from "./receipts";

/** A fixed signing key, so failures are reproducible; it guards nothing. */
export const SIGNER = new Wallet("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
export const ESCROW = { address: "0x5fbdb2315678afecb367f032d93f642f64180aa3", chainId: 31337n };
export const SETTLEMENT_TX = `0x${"ab".repeat(32)}`;
export const SETTLEMENT_BLOCK = 42;

/** A valid, settled bundle: receipt `index` of ten, in a voucher the fixed signer signed for ESCROW. */
export async function settledBundle(index = 4): Promise<ReceiptBundle> {
  const receipts = receiptsOf(10);
  const { voucher, tree } = buildNextVoucher({ payer: PAYER, provider: PROVIDER, previousTotalMicros: 0n, receipts });
  const receipt = receipts[index];
  return {
    format: RECEIPT_BUNDLE_FORMAT,
    receipt,
    proof: tree.proofOf(receipt.requestId),
    receiptCount: tree.size,
    voucher,
    signature: await signVoucher(SIGNER, escrowDomain(ESCROW.chainId, ESCROW.address), voucher),
    signer: SIGNER.address.toLowerCase(),
    escrow: { ...ESCROW },
    settlement: { txHash: SETTLEMENT_TX, blockNumber: SETTLEMENT_BLOCK },
  };
}

export interface FakeChain extends EscrowChain {
  /** Every findSettledEvent call's hint, to check the verifier passes the bundle's transaction. */
  hints: Array<{ txHash: string } | undefined>;
}

/**
 * An escrow that authorised SIGNER and fully paid `bundle`'s voucher in SETTLEMENT_TX, unless
 * `overrides` says otherwise.
 */
export function fakeChainFor(bundle: ReceiptBundle, overrides: Partial<EscrowChain> = {}): FakeChain {
  const { voucher } = bundle;
  const event: SettledEventRecord = {
    txHash: SETTLEMENT_TX,
    blockNumber: SETTLEMENT_BLOCK,
    cumulativeAmount: voucher.cumulativeAmount,
    paid: voucher.cumulativeAmount,
  };
  const hints: FakeChain["hints"] = [];
  return {
    escrow: { ...ESCROW },
    isSigner: async (signer) => signer.toLowerCase() === SIGNER.address.toLowerCase(),
    settledAmount: async () => voucher.cumulativeAmount,
    findSettledEvent: async (payer, provider, usageRoot, hint) => {
      hints.push(hint);
      const same = payer === voucher.payer && provider === voucher.provider && usageRoot === voucher.usageRoot;
      return same ? event : null;
    },
    ...overrides,
    hints,
  };
}
