import type { Address } from "../types";

/** Micro base units in one USDC base unit: `…Base × MICROS_PER_BASE` compares with `…Micros`. */
export const MICROS_PER_BASE = 1_000_000n;

/** An account's off-chain mirror of its escrow balance (DESIGN.md, "Balances a user sees"). */
export interface AccountBalance {
  account: Address;
  /** The escrow's `available` for this payer, from confirmed events. */
  onchainAvailableBase: bigint;
  /** Funds in their withdrawal thawing period: settleable, not spendable by new requests. */
  onchainThawingBase: bigint;
  /** Metered usage not yet paid on-chain. */
  unsettledMicros: bigint;
  /** The worst-case cost of every request in flight. */
  heldMicros: bigint;
  /** What a new request may still reserve. */
  spendableMicros: bigint;
  updatedAt: Date;
}

/**
 * `available − unsettled − held`, never below 0. It can be negative underneath
 * when a request cost more than its hold or a withdrawal shrank `available`;
 * the account then simply cannot reserve until it is topped up or settled.
 */
export function spendableMicros(
  balance: Pick<AccountBalance, "onchainAvailableBase" | "unsettledMicros" | "heldMicros">,
): bigint {
  const spendable = balance.onchainAvailableBase * MICROS_PER_BASE - balance.unsettledMicros - balance.heldMicros;
  return spendable > 0n ? spendable : 0n;
}
