import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import type { HDNodeWallet, JsonRpcProvider } from "ethers";
import { deployEscrow } from "../../../scripts/lib/deployEscrow";
import { MockUSDC__factory, UsageEscrow__factory, type MockUSDC, type UsageEscrow } from "../../../typechain-types";
import { openDatabase, type Database } from "../../../server/persistence";
import {
  startSettlementWorker,
  type SettlementWorker,
  type SettlementWorkerOptions,
} from "../../../server/workers/settlementWorker";
import type { SettlementSettings } from "../../../server/workers/settlement/settlementSettings";
import { fundedKey, holdRequest, reserveOrFail, usageFor, type FundedKey } from "../persistence/fixtures";
import { createTestDatabase, type TestDatabase } from "../../support/database";
import { startHardhatNode, type HardhatNode } from "../../support/hardhatNode";

/**
 * A real `hardhat node` with the escrow deployed by scripts/lib/deployEscrow, a fresh Postgres
 * database, and usage written through the real PostgresLedger (reserve, then commit), so the
 * settlement worker sees what a gateway would have written.
 */

export const USDC = 1_000_000n;
export const MICROS_PER_BASE = 1_000_000n;
export const FEE_BPS = 1000n;
export const THAWING_PERIOD_SECONDS = 7n * 24n * 60n * 60n;

/** Settings that make every tick do everything: no waiting interval, one confirmation. */
export const EAGER_SETTINGS: Partial<SettlementSettings> = {
  intervalMs: 0,
  pollMs: 1_000,
  thresholdBase: 1n,
  confirmations: 1,
  blockTimeMs: 1_000,
};

export interface SettlementHarness {
  node: HardhatNode;
  provider: JsonRpcProvider;
  db: Database;
  usdc: MockUSDC;
  escrow: UsageEscrow;
  escrowAddress: string;
  owner: HDNodeWallet;
  treasury: HDNodeWallet;
  signer: HDNodeWallet;
  submitter: HDNodeWallet;
  /** Another gateway instance's view of the same database. */
  openInstance(): Promise<Database>;
  /** A new payer: an account with a key in the database, `onChainBase` deposited on the escrow. */
  payer(onChainBase: bigint, mirroredBase?: bigint): Promise<FundedKey>;
  /** Deposits more on the escrow for `account` (and mirrors it, as the chain watcher would). */
  deposit(account: string, amountBase: bigint): Promise<void>;
  /** Meters one request per cost (reserve, then commit), served by `provider`; returns the request ids. */
  meter(payer: FundedKey, provider: string, costsMicros: readonly bigint[]): Promise<string[]>;
  startWorker(options?: Partial<SettlementWorkerOptions> & { database?: Database }): Promise<SettlementWorker>;
  /** Stops every worker started so far (each test's workers give the leadership back). */
  stopWorkers(): Promise<void>;
  rpc(method: string, params?: unknown[]): Promise<unknown>;
  close(): Promise<void>;
}

export async function startSettlementHarness(): Promise<SettlementHarness> {
  const node = await startHardhatNode();
  const provider = node.provider();
  const [owner, treasury, signer, submitter] = [0, 1, 2, 3].map((index) => node.account(index, provider));
  const deploymentsDir = mkdtempSync(path.join(os.tmpdir(), "shareai-settlement-"));
  const record = await deployEscrow(
    {
      deploymentsDir,
      treasury: treasury.address,
      settlementSigner: signer.address,
      thawingPeriodSeconds: THAWING_PERIOD_SECONDS,
      feeBps: Number(FEE_BPS),
    },
    owner,
    () => undefined,
  );
  const usdc = MockUSDC__factory.connect(record.usdc.address, owner);
  const escrow = UsageEscrow__factory.connect(record.escrow.address, owner);
  const escrowAddress = record.escrow.address;
  await (await usdc.approve(escrowAddress, 2n ** 255n)).wait();

  const testDatabase: TestDatabase = await createTestDatabase();
  const instances: Database[] = [];
  const openInstance = async () => {
    const instance = await openDatabase({ databaseUrl: testDatabase.url });
    instances.push(instance);
    return instance;
  };
  const db = await openInstance();
  const workers: SettlementWorker[] = [];

  const deposit = async (account: string, amountBase: bigint) => {
    await (await usdc.mint(owner.address, amountBase)).wait();
    await (await escrow.depositFor(account, amountBase)).wait();
  };

  return {
    node,
    provider,
    db,
    usdc,
    escrow,
    escrowAddress,
    owner,
    treasury,
    signer,
    submitter,
    openInstance,
    async payer(onChainBase, mirroredBase = onChainBase) {
      const funded = await fundedKey(db, mirroredBase);
      if (onChainBase > 0n) await deposit(funded.account, onChainBase);
      return funded;
    },
    async deposit(account, amountBase) {
      await deposit(account, amountBase);
      const balance = await db.accounts.getBalance(account);
      await db.accounts.setOnChainBalance(account, (balance?.onchainAvailableBase ?? 0n) + amountBase, 0n);
    },
    async meter(payer, provider, costsMicros) {
      const ids: string[] = [];
      for (const costMicros of costsMicros) {
        const request = holdRequest(payer, costMicros, { requestId: `req-${randomUUID()}` });
        const hold = await reserveOrFail(db, request);
        await db.ledger.commit(
          usageFor(request, hold, costMicros, {
            providerAddress: provider.toLowerCase(),
            usage: { promptTokens: 100 + ids.length, completionTokens: 20 },
          }),
        );
        ids.push(request.requestId);
      }
      return ids;
    },
    async startWorker(options = {}) {
      const worker = await startSettlementWorker({
        database: options.database ?? db,
        provider,
        escrowAddress,
        signer,
        submitter,
        autoTick: false,
        ...options,
        settings: { ...EAGER_SETTINGS, ...options.settings },
      });
      workers.push(worker);
      return worker;
    },
    async stopWorkers() {
      await Promise.all(workers.splice(0).map((worker) => worker.stop().catch(() => undefined)));
    },
    rpc: (method, params = []) => provider.send(method, params),
    async close() {
      await Promise.all(workers.map((worker) => worker.stop().catch(() => undefined)));
      await Promise.all(instances.map((instance) => instance.close()));
      await testDatabase.drop();
      provider.destroy();
      await node.stop();
      rmSync(deploymentsDir, { recursive: true, force: true });
    },
  };
}

/** Hardhat's default account `index`'s address, lower-cased: a provider's payout address. */
export function providerAddress(harness: SettlementHarness, index: number): string {
  return harness.node.account(index).address.toLowerCase();
}

/** What the escrow pays a provider of `paid` (the fee rounded down goes to the treasury). */
export function providerShareOf(paid: bigint): bigint {
  return paid - (paid * FEE_BPS) / 10_000n;
}
