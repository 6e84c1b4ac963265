import { hardhatAccount } from "./hardhatNode";

/**
 * Who is who on the local chain: Hardhat's well-known development accounts
 * (10,000 ETH each, private keys public, so local use only).
 */
export const LOCAL_ROLES = {
  /** Deploys MockUSDC and the escrow, and owns the escrow (authorises signers). */
  deployer: 0,
  /** The demo user: its deposit pays for the demo key's requests. */
  demoUser: 1,
  /** The demo provider's payout address. */
  demoProvider: 2,
  /** Receives the platform fee (10%). */
  treasury: 3,
  /** Signs vouchers (authorised on the escrow at deployment). */
  settlementSigner: 4,
  /** Sends `settle` transactions and pays their gas. */
  settlementSubmitter: 5,
} as const;

export type LocalRole = keyof typeof LOCAL_ROLES;

/** Accounts #6 onwards are free for you (and the tests) to use. */
export const FIRST_FREE_LOCAL_ACCOUNT = 6;

export function localRoleAddress(role: LocalRole): string {
  return hardhatAccount(LOCAL_ROLES[role]).address;
}
