import type { Address } from "../domain/types";
import type { EscrowRef } from "./receiptBundle";

/** A `Settled` event of the escrow, as receipt verification needs it. */
export interface SettledEventRecord {
  txHash: string;
  blockNumber: number;
  /** The pair's settled amount after this payment (below the voucher's when the deposit was short). */
  cumulativeAmount: bigint;
  /** What this payment moved, in base units. */
  paid: bigint;
}

/**
 * The little of the chain that receipt verification reads, as a structural interface: tests pass
 * a fake, `server/chain/escrowReader.ts` wraps the deployed contract, a browser can wrap a wallet.
 * Implementations throw when the chain cannot be read; that is not a verdict on a receipt.
 */
export interface EscrowChain {
  /**
   * The escrow this reader reads. The verifier compares it with the bundle's, so a bundle cannot
   * choose the contract that vouches for it: the caller connects to the escrow it trusts.
   */
  readonly escrow: EscrowRef;
  isSigner(signer: Address): Promise<boolean>;
  settledAmount(payer: Address, provider: Address): Promise<bigint>;
  /**
   * The latest `Settled` event of the pair carrying `usageRoot`, or null. `hint.txHash` (the
   * transaction the gateway says paid it) lets a reader look there first instead of scanning logs.
   */
  findSettledEvent(
    payer: Address,
    provider: Address,
    usageRoot: string,
    hint?: { txHash: string },
  ): Promise<SettledEventRecord | null>;
}
