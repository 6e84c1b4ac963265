import type { Database } from "../persistence";
import { DEMO_MODEL } from "./demoModel";

/**
 * The demo user: Hardhat's well-known development account #1 (its private
 * key is public: local use only), with a demo balance and a fresh API key.
 *
 * On the local chain the balance is a MockUSDC deposit in the escrow (made by
 * the local network, see `fundDemoOnChain`) that the chain watcher mirrors.
 * Without a chain (`shareai start --no-chain`) it is written straight into the
 * ledger's mirror of the escrow (`accounts.setOnChainBalance`) and called what
 * it is: a local demo balance, not money on any chain.
 */
export const DEMO_ACCOUNT = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";

/** 10 USDC in base units: about ten million demo tokens at the demo rates. */
export const DEMO_BALANCE_BASE = 10_000_000n;

export const DEMO_KEY_NAME = "demo key (shareai start)";

export interface DemoAccess {
  account: string;
  /** The account's on-chain balance as the ledger now mirrors it (base units). */
  balanceBase: bigint;
  /** What new requests can spend now: the mirrored balance less unsettled usage and holds (base units, rounded down). */
  spendableBase: bigint;
  /** "chain": a deposit in the escrow, mirrored by the chain watcher; "ledger": written to the ledger (no chain). */
  funding: "chain" | "ledger";
  keyId: string;
  /** The new key's secret: not stored anywhere, shown once. */
  apiKey: string;
}

/**
 * Creates a new key for the demo account. Without a chain (`funding:
 * "ledger"`) it first tops the ledger's balance up to the demo balance (never
 * down: an operator may have given it more); with one, the balance is what the
 * chain watcher mirrored of the escrow, funded on chain beforehand. Keys are
 * stored only as hashes, so an earlier run's key cannot be shown again;
 * earlier demo keys keep working until revoked.
 */
export async function issueDemoAccess(
  database: Database,
  options: { funding?: "chain" | "ledger" } = {},
): Promise<DemoAccess> {
  const funding = options.funding ?? "ledger";
  const current = await database.accounts.getBalance(DEMO_ACCOUNT);
  const balance =
    funding === "chain" || (current && current.onchainAvailableBase >= DEMO_BALANCE_BASE)
      ? (current ?? { onchainAvailableBase: 0n, spendableMicros: 0n })
      : await database.accounts.setOnChainBalance(DEMO_ACCOUNT, DEMO_BALANCE_BASE, current?.onchainThawingBase ?? 0n);
  const created = await database.apiKeys.create({
    account: DEMO_ACCOUNT,
    name: DEMO_KEY_NAME,
    allowedModels: [DEMO_MODEL.id],
  });
  return {
    account: DEMO_ACCOUNT,
    balanceBase: balance.onchainAvailableBase,
    spendableBase: (balance.spendableMicros > 0n ? balance.spendableMicros : 0n) / 1_000_000n,
    funding,
    keyId: created.apiKey.id,
    apiKey: created.secret,
  };
}
