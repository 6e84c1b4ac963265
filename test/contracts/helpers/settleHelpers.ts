import { expect } from "chai";
import { ethers } from "hardhat";
import type { ContractTransactionResponse } from "ethers";
import type { UsageEscrow } from "../../../typechain-types";
import type { Voucher } from "../../../server/chain/voucher";
import { deployEscrowFixture, splitOf } from "./escrowFixture";

export type EscrowFixture = Awaited<ReturnType<typeof deployEscrowFixture>>;
type Tx = Promise<ContractTransactionResponse>;

export const MAX_UINT128 = (1n << 128n) - 1n;
// secp256k1 group order: (r, s, v) and (r, n - s, v ^ 1) recover the same key.
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const ECRECOVER_PRECOMPILE = "0x0000000000000000000000000000000000000001";

/** A distinct, readable usage root per label. */
export const rootOf = (label: string) => ethers.id(label);

/** A deterministic payout address that no test account uses: a fresh pair for every index. */
export const addressOf = (label: string) => ethers.getAddress(ethers.dataSlice(ethers.id(label), 12));

export function voucherOf(payer: string, provider: string, cumulativeAmount: bigint, label = "receipts"): Voucher {
  return { payer, provider, cumulativeAmount, usageRoot: rootOf(`${label}:${cumulativeAmount}`) };
}

/** One `Settled` event as the escrow emits it. */
export interface Settlement {
  payer: string;
  provider: string;
  cumulativeAmount: bigint;
  paid: bigint;
  providerShare: bigint;
  fee: bigint;
  usageRoot: string;
}

/** The `Settled` event a payment of `paid` on `voucher` must emit, `settledAfter` being the pair's new settled amount. */
export function settlementOf(voucher: Voucher, paid: bigint, settledAfter = voucher.cumulativeAmount): Settlement {
  return {
    payer: voucher.payer,
    provider: voucher.provider,
    cumulativeAmount: settledAfter,
    paid,
    ...splitOf(paid),
    usageRoot: voucher.usageRoot,
  };
}

/** Every `Settled` event of `tx`, in log order. */
export async function settledEventsOf(escrow: UsageEscrow, tx: Tx): Promise<Settlement[]> {
  const receipt = await (await tx).wait();
  const escrowAddress = await escrow.getAddress();
  return receipt!.logs
    .filter((log) => log.address === escrowAddress)
    .map((log) => escrow.interface.parseLog(log))
    .filter((parsed) => parsed?.name === "Settled")
    .map((parsed) => {
      const [payer, provider, cumulativeAmount, paid, providerShare, fee, usageRoot] = parsed!.args;
      return { payer, provider, cumulativeAmount, paid, providerShare, fee, usageRoot };
    });
}

/**
 * Asserts that `tx` emitted exactly `expected`, in order: each one with the chai matcher, then the
 * whole list against the receipt, which also catches extra or duplicated events.
 */
export async function expectSettled(escrow: UsageEscrow, tx: Tx, expected: Settlement[]): Promise<void> {
  if (expected.length === 0) {
    await expect(tx).not.to.emit(escrow, "Settled");
  }
  for (const s of expected) {
    await expect(tx)
      .to.emit(escrow, "Settled")
      .withArgs(s.payer, s.provider, s.cumulativeAmount, s.paid, s.providerShare, s.fee, s.usageRoot);
  }
  expect(await settledEventsOf(escrow, tx)).to.deep.equal(expected);
}

/** Everything `settle` can change, for the fixture's accounts, as plain comparable values. */
export async function ledgerOf(f: EscrowFixture, extraPayees: string[] = []) {
  const payers = f.payers.map((p) => p.address);
  const providers = f.providers.map((p) => p.address);
  const payees = [...providers, f.treasury.address, f.stranger.address, ...extraPayees];
  return {
    balances: await Promise.all(payers.map(async (p) => [...(await f.escrow.balanceOf(p))])),
    settled: await Promise.all(payers.map((p) => Promise.all(providers.map((q) => f.escrow.settledAmount(p, q))))),
    earnings: await Promise.all(payees.map((p) => f.escrow.earningsOf(p))),
    escrowTokens: await f.usdc.balanceOf(f.escrowAddress),
  };
}

/** The escrow holds exactly what its payers and payees are owed (nobody sent it tokens directly). */
export async function expectFullyBacked(f: EscrowFixture, extraPayees: string[] = []): Promise<void> {
  const ledger = await ledgerOf(f, extraPayees);
  const deposits = ledger.balances.reduce((sum, [available, thawing]) => sum + available + thawing, 0n);
  const earnings = ledger.earnings.reduce((sum, e) => sum + e, 0n);
  expect(ledger.escrowTokens).to.equal(deposits + earnings);
}

/** The malleable twin of a canonical 65-byte signature: s' = n - s with the parity of v flipped. */
export function highSTwinOf(signature: string): string {
  const { r, s, v } = ethers.Signature.from(signature);
  // ethers refuses to build a high-s Signature, so the bytes are laid out by hand.
  return ethers.concat([r, ethers.toBeHex(SECP256K1_N - BigInt(s), 32), ethers.toBeHex(v === 27 ? 28 : 27, 1)]);
}

/** What the EVM's ecrecover (no low-s rule) returns for a 65-byte signature. */
export async function ecrecover(digest: string, signature: string): Promise<string> {
  const r = ethers.dataSlice(signature, 0, 32);
  const s = ethers.dataSlice(signature, 32, 64);
  const v = ethers.getBytes(signature)[64];
  const data = ethers.AbiCoder.defaultAbiCoder().encode(["bytes32", "uint8", "bytes32", "bytes32"], [digest, v, r, s]);
  const output = await ethers.provider.call({ to: ECRECOVER_PRECOMPILE, data });
  return ethers.getAddress(ethers.dataSlice(output, 12));
}

/** Mulberry32: a small PRNG that replays exactly from its 32-bit seed. */
export function prngOf(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A uniformly random integer of at most `bits` bits. */
export function randomBits(next: () => number, bits: number): bigint {
  let value = 0n;
  for (let filled = 0; filled < bits; filled += 32) value = (value << 32n) | BigInt(next());
  return value & ((1n << BigInt(bits)) - 1n);
}
