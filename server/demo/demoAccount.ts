import type { Database } from "../persistence";
import { DEMO_MODEL } from "./demoModel";

/**
 * The demo user: Hardhat's well-known development account #1 (its private
 * key is public: local use only), with a demo balance and a fresh API key.
 *
 * Until the chain watcher exists the balance is written straight into the
 * ledger's mirror of the escrow (`accounts.setOnChainBalance`), and called what
 * it is: a local demo balance, not money on any chain. When the local network
 * gains its chain, this becomes a MockUSDC deposit that the watcher mirrors.
 */
export const DEMO_ACCOUNT = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";

/** 10 USDC in base units: about ten million demo tokens at the demo rates. */
export const DEMO_BALANCE_BASE = 10_000_000n;

export const DEMO_KEY_NAME = "demo key (shareai start)";

export interface DemoAccess {
  account: string;
  /** The account's on-chain balance as the ledger now mirrors it (base units). */
  balanceBase: bigint;
  keyId: string;
  /** The new key's secret: not stored anywhere, shown once. */
  apiKey: string;
}

/**
 * Tops the demo account up to the demo balance (never down: an operator may
 * have given it more) and creates a new key for it. Keys are stored only as
 * hashes, so an earlier run's key cannot be shown again; earlier demo keys
 * keep working until revoked.
 */
export async function issueDemoAccess(database: Database): Promise<DemoAccess> {
  const current = await database.accounts.getBalance(DEMO_ACCOUNT);
  const balance =
    current && current.onchainAvailableBase >= DEMO_BALANCE_BASE
      ? current
      : await database.accounts.setOnChainBalance(DEMO_ACCOUNT, DEMO_BALANCE_BASE, current?.onchainThawingBase ?? 0n);
  const created = await database.apiKeys.create({
    account: DEMO_ACCOUNT,
    name: DEMO_KEY_NAME,
    allowedModels: [DEMO_MODEL.id],
  });
  return {
    account: DEMO_ACCOUNT,
    balanceBase: balance.onchainAvailableBase,
    keyId: created.apiKey.id,
    apiKey: created.secret,
  };
}
