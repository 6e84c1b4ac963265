import { getAddress, type Provider } from "ethers";
import type { Pool } from "pg";
import type { DataSource } from "typeorm";
import { DEFAULT_LOG_BLOCK_RANGE, providerChainReader, type ChainReader } from "../chain/chainReader";
import type { Address } from "../domain/types";
import type { CursorPosition } from "../persistence/chain/chainCursor";
import { assertFollowable, followEscrow } from "../persistence/chain/followEscrow";
import { pgPoolOf } from "../persistence/pgPool";
import { createLeaderElection } from "./advisoryLock";
import { runLeaderTick, type LeaderTickResult } from "./chainWatcherTick";

/** The advisory lock that elects the one watcher that writes, among all gateway instances on one database. */
export const CHAIN_WATCHER_LOCK_KEY = "shareai.chain-watcher";
export const DEFAULT_MAX_REORG_DEPTH = 128;
const DEFAULT_RANGES_PER_TICK = 5;

/** pino's shape; every method is optional so `console` or nothing also fits. */
export interface ChainWatcherLogger {
  debug?(fields: object, message: string): void;
  info?(fields: object, message: string): void;
  warn?(fields: object, message: string): void;
  error?(fields: object, message: string): void;
}

export interface ChainWatcherOptions {
  /** The database: a node-postgres pool, or the TypeORM DataSource whose pool to use. */
  pool?: Pool;
  dataSource?: DataSource;
  /** Reads the chain; the watcher never sends a transaction. */
  provider: Provider;
  escrowAddress: string;
  /** Where the escrow's history starts (deployments/<chainId>.json has it). */
  deploymentBlock: number;
  /** An event is applied once its block has this many confirmations (the block itself is the first). */
  confirmations: number;
  pollIntervalMs: number;
  /** The widest block range of one eth_getLogs (default 2,000). */
  logBlockRange?: number;
  /** Blocks one tick reads at most (default 5 log ranges); all of a tick's writes are one transaction. */
  maxBlocksPerTick?: number;
  /** How deep a reorganisation can be rolled back to a common block (default 128); deeper ones replay from the deployment block. */
  maxReorgDepth?: number;
  /** Local chains only: follow a new escrow by rolling back the old one's state (see followEscrow). */
  allowEscrowChange?: boolean;
  /** Tick on a timer (default). Tests pass false and call `tick()` themselves. */
  autoTick?: boolean;
  logger?: ChainWatcherLogger;
  /** Replaces the provider-backed reader (tests). */
  chainReader?: ChainReader;
}

export type TickResult = { role: "follower" } | LeaderTickResult;

export interface ChainWatcherStatus {
  chainId: bigint;
  escrow: Address;
  /** Whether this instance held the lock at its last tick. */
  leader: boolean;
  /** The cursor as of this instance's last leading tick. */
  cursor: CursorPosition | null;
  head: number | null;
  safeBlock: number | null;
  /** Confirmed blocks not applied yet. */
  lagBlocks: number | null;
  lastTickAt: Date | null;
  lastError: string | null;
  /** Since this instance started. */
  eventsApplied: number;
  eventsRolledBack: number;
  reorgs: number;
}

export interface ChainWatcher {
  /** Stops ticking, waits for a tick in progress, and gives the lock up. */
  stop(): Promise<void>;
  /** Runs one tick now (after any tick in progress); rejects with the tick's error. */
  tick(): Promise<TickResult>;
  status(): ChainWatcherStatus;
}

/**
 * Follows the escrow's events into Postgres (docs/chain-watcher.md). Every
 * gateway instance may run one: an advisory lock elects the instance that
 * writes, re-checked every tick, and the others stand by to take over.
 * Resolves once the chain and the database agree on which escrow is followed.
 */
export async function startChainWatcher(options: ChainWatcherOptions): Promise<ChainWatcher> {
  const pool = options.pool ?? (options.dataSource ? pgPoolOf(options.dataSource) : undefined);
  if (!pool) throw new TypeError("startChainWatcher needs a pool or a dataSource");
  validate(options);
  const logger = options.logger ?? {};
  const escrow = getAddress(options.escrowAddress).toLowerCase();
  const reader =
    options.chainReader ??
    providerChainReader(options.provider, escrow, { logBlockRange: options.logBlockRange ?? DEFAULT_LOG_BLOCK_RANGE });
  const chainId = await reader.chainId();
  if (!options.chainReader && (await options.provider.getCode(escrow)) === "0x") {
    throw new Error(`no contract at ESCROW_ADDRESS ${escrow} on chain ${chainId}`);
  }
  const followed = { chainId, escrow, deploymentBlock: options.deploymentBlock };
  await assertFollowable(pool, followed, options);

  const settings = {
    confirmations: options.confirmations,
    maxBlocksPerTick:
      options.maxBlocksPerTick ?? (options.logBlockRange ?? DEFAULT_LOG_BLOCK_RANGE) * DEFAULT_RANGES_PER_TICK,
    maxReorgDepth: options.maxReorgDepth ?? DEFAULT_MAX_REORG_DEPTH,
  };
  const status: ChainWatcherStatus = {
    chainId,
    escrow,
    leader: false,
    cursor: null,
    head: null,
    safeBlock: null,
    lagBlocks: null,
    lastTickAt: null,
    lastError: null,
    eventsApplied: 0,
    eventsRolledBack: 0,
    reorgs: 0,
  };
  // Set once this instance, as leader, has made sure the cursor follows the escrow; reset on losing the lead.
  let following = false;
  const election = createLeaderElection({
    pool,
    lockKey: CHAIN_WATCHER_LOCK_KEY,
    onChange(leader) {
      status.leader = leader;
      if (!leader) following = false;
      logger.info?.({ escrow, leader }, leader ? "chain watcher: leading" : "chain watcher: standing by");
    },
    onError(error) {
      logger.warn?.({ err: error }, "chain watcher: lock connection failed");
    },
  });

  const tickOnce = async (): Promise<TickResult> => {
    if (!(await election.check())) return { role: "follower" };
    if (!following) {
      const { cursor, replaced } = await followEscrow(pool, followed, options);
      if (replaced) {
        logger.warn?.(
          { from: replaced.escrow, to: escrow, fromBlock: followed.deploymentBlock },
          "chain watcher: previous chain state rolled back; replaying from the deployment block",
        );
      }
      logger.info?.({ escrow, chainId: String(chainId), block: cursor.blockNumber }, "chain watcher: following");
      following = true;
    }
    const result = await runLeaderTick(pool, reader, settings);
    record(result);
    return result;
  };

  const record = (result: LeaderTickResult) => {
    Object.assign(status, {
      cursor: result.cursor,
      head: result.head,
      safeBlock: result.safeBlock,
      lagBlocks: Math.max(0, result.safeBlock - result.cursor.blockNumber),
    });
    if (result.outcome !== "applied") {
      if (result.outcome !== "idle") logger.debug?.({ outcome: result.outcome }, "chain watcher: tick dropped");
      return;
    }
    status.eventsApplied += result.eventsApplied;
    status.eventsRolledBack += result.eventsRolledBack;
    if (result.reorg) {
      status.reorgs += 1;
      const fields = { commonBlock: result.reorg.commonBlock, eventsRolledBack: result.eventsRolledBack };
      if (result.reorg.commonBlock === null) {
        logger.error?.(
          fields,
          "chain watcher: no remembered block is on the chain any more; replaying from the deployment block",
        );
      } else {
        logger.warn?.(fields, "chain watcher: reorganisation rolled back");
      }
    }
    if (result.eventsApplied > 0) {
      logger.info?.(
        { block: result.cursor.blockNumber, events: result.eventsApplied, lag: status.lagBlocks },
        "chain watcher: events applied",
      );
    }
  };

  // Ticks never overlap: manual ticks and timer ticks queue behind each other.
  let queue: Promise<unknown> = Promise.resolve();
  const tick = (): Promise<TickResult> => {
    const run = queue.then(tickOnce);
    queue = run.then(
      (result) => {
        status.lastTickAt = new Date();
        status.lastError = null;
        return result;
      },
      (error: unknown) => {
        status.lastTickAt = new Date();
        status.lastError = error instanceof Error ? error.message : String(error);
      },
    );
    return run;
  };

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    let caughtUp = true;
    try {
      const result = await tick();
      caughtUp = result.role === "follower" || result.caughtUp;
    } catch (error) {
      logger.error?.({ err: error }, "chain watcher: tick failed");
    }
    if (stopped) return;
    timer = setTimeout(loop, caughtUp ? options.pollIntervalMs : 0);
    timer.unref();
  };
  if (options.autoTick !== false) {
    timer = setTimeout(loop, 0);
    timer.unref();
  }

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await queue.catch(() => undefined);
      await election.release();
    },
    tick() {
      if (stopped) return Promise.reject(new Error("the chain watcher is stopped"));
      return tick();
    },
    status: () => ({ ...status, leader: election.isLeader }),
  };
}

function validate(options: ChainWatcherOptions): void {
  const wholeNumber = (name: string, value: number | undefined, min: number) => {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
      throw new RangeError(`${name} must be a whole number of at least ${min}, got ${value}`);
    }
  };
  wholeNumber("deploymentBlock", options.deploymentBlock, 0);
  wholeNumber("confirmations", options.confirmations, 0);
  wholeNumber("pollIntervalMs", options.pollIntervalMs, 1);
  wholeNumber("logBlockRange", options.logBlockRange, 1);
  wholeNumber("maxBlocksPerTick", options.maxBlocksPerTick, 1);
  wholeNumber("maxReorgDepth", options.maxReorgDepth, 1);
}
