import type { Logger } from "pino";
import type { Database } from "../../persistence";
import { startChainWatcher, type ChainWatcher } from "../../workers/chainWatcher";
import { startSettlementWorker, type SettlementWorker } from "../../workers/settlementWorker";
import type { ChainConnection } from "./chainConnection";

/** The chain watcher and the settlement worker of one gateway instance (each leader-elected among instances). */
export interface ChainWorkers {
  watcher: ChainWatcher;
  worker: SettlementWorker;
  /**
   * Resolves once the database's mirror has applied every block up to
   * `blockNumber` (that block needs its confirmations first). Ticks the
   * watcher when this instance leads; otherwise waits for the leader.
   */
  waitForMirror(blockNumber: number, timeoutMs?: number): Promise<void>;
  /** The worker first (no new settlement), then the watcher. */
  stop(): Promise<void>;
}

export async function startChainWorkers(
  database: Database,
  chain: ChainConnection,
  logger: Logger,
): Promise<ChainWorkers> {
  const watcher = await startChainWatcher({
    dataSource: database.dataSource,
    provider: chain.provider,
    escrowAddress: chain.escrowAddress,
    deploymentBlock: chain.deploymentBlock,
    confirmations: chain.watcher.confirmations,
    pollIntervalMs: chain.watcher.pollIntervalMs,
    logBlockRange: chain.watcher.logBlockRange,
    maxReorgDepth: chain.watcher.maxReorgDepth,
    // The local chain is new on every start: the mirror of the previous one is rolled back.
    allowEscrowChange: chain.local,
    logger: logger.child({ component: "chain-watcher" }),
  });
  let worker: SettlementWorker;
  try {
    // The watcher first catches up, so the balances the gateway serves from are the chain's.
    await catchUp(watcher);
    worker = await startSettlementWorker({
      database,
      provider: chain.provider,
      escrowAddress: chain.escrowAddress,
      signer: chain.signer,
      submitter: chain.submitter,
      settings: chain.settlement,
      logger: logger.child({ component: "settlement-worker" }),
    });
  } catch (error) {
    await watcher.stop().catch(() => undefined);
    throw error;
  }
  logger.info(
    {
      chainId: chain.chainId.toString(),
      escrow: chain.escrowAddress,
      escrowSource: chain.escrowSource,
      signer: chain.signer.address,
      submitter: chain.submitter.address,
      confirmations: chain.watcher.confirmations,
      settlementIntervalMs: worker.status().settings.intervalMs,
    },
    "chain watcher and settlement worker started",
  );

  const waitForMirror = async (blockNumber: number, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (watcher.status().leader || !watcher.status().lastTickAt) await watcher.tick().catch(() => undefined);
      const cursor = await database.chain.cursor();
      if (cursor && cursor.blockNumber >= blockNumber) return;
      if (Date.now() > deadline) {
        throw new Error(
          `the chain watcher has not applied block ${blockNumber} within ${timeoutMs} ms ` +
            `(cursor ${cursor?.blockNumber ?? "none"}, last error ${watcher.status().lastError ?? "none"})`,
        );
      }
      await new Promise((wake) => setTimeout(wake, 200));
    }
  };

  return {
    watcher,
    worker,
    waitForMirror,
    async stop() {
      try {
        await worker.stop();
      } finally {
        await watcher.stop();
      }
    },
  };
}

/** Ticks the watcher until no confirmed block is left to apply (or another instance leads). */
async function catchUp(watcher: ChainWatcher): Promise<void> {
  for (;;) {
    const result = await watcher.tick();
    if (result.role === "follower") return;
    if (result.cursor.blockNumber >= result.safeBlock) return;
  }
}
