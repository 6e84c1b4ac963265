import type { Provider, Signer } from "ethers";
import pino, { type Logger } from "pino";
import type { Database } from "../persistence/database";
import { pgPoolOf } from "../persistence/pgPool";
import { createLeaderElection } from "./advisoryLock";
import { buildDueVouchers } from "./settlement/buildVouchers";
import { collectShortfalls } from "./settlement/collectShortfalls";
import { resignRevokedVouchers } from "./settlement/resignVouchers";
import { connectSettlementChain } from "./settlement/settlementChain";
import {
  emptyReport,
  type SettlementContext,
  type SettlementStep,
  type TickReport,
} from "./settlement/settlementContext";
import {
  checkThawingPeriod,
  resolveSettlementSettings,
  type SettlementSettings,
} from "./settlement/settlementSettings";
import { submitPendingVouchers } from "./settlement/submitVouchers";
import { watchTransactions } from "./settlement/watchTransactions";

export const SETTLEMENT_LOCK_KEY = "shareai.settlement-worker";

export interface SettlementWorkerOptions {
  database: Pick<Database, "dataSource" | "vouchers" | "settlementTransactions">;
  provider: Provider;
  escrowAddress: string;
  /** Signs vouchers (SETTLEMENT_SIGNER_KEY). */
  signer: Signer;
  /** Pays for `settle` transactions (SETTLEMENT_SUBMITTER_KEY). */
  submitter: Signer;
  settings?: Partial<SettlementSettings>;
  logger?: Logger;
  /** The clock that decides when a voucher is due and when a transaction is stuck. */
  clock?: () => Date;
  /** Tick every `settings.pollMs` (default); false: only when `tick()` is called (tests, benchmarks). */
  autoTick?: boolean;
  /** The advisory lock that elects the acting instance. */
  lockKey?: string;
}

export interface SettlementWorkerStatus {
  running: boolean;
  /** Whether this instance held the lock at its last tick. */
  leader: boolean;
  ticks: number;
  lastTick: TickReport | null;
  lastError: { at: Date; message: string } | null;
  chainId: bigint;
  escrow: string;
  signer: string;
  submitter: string;
  settings: SettlementSettings;
}

export interface SettlementWorker {
  /** Stops the timer, waits for a tick in progress, and gives the leadership up. */
  stop(): Promise<void>;
  /**
   * Runs one tick now (after any tick in progress): nothing unless this instance leads; then
   * watch transactions, collect shortfalls, re-sign revoked vouchers, build, submit. Rejects with
   * the error that stopped the tick.
   */
  tick(): Promise<TickReport>;
  status(): SettlementWorkerStatus;
}

/**
 * Starts the settlement worker (docs/settlement-worker.md). Refuses to start, with a
 * `SettlementConfigError`, when the escrow's thawing period does not outlast the settlement
 * interval plus confirmations, or when a setting is out of range.
 */
export async function startSettlementWorker(options: SettlementWorkerOptions): Promise<SettlementWorker> {
  const settings = resolveSettlementSettings(options.settings);
  const logger = options.logger ?? pino({ level: "silent" });
  const clock = options.clock ?? (() => new Date());
  const chain = await connectSettlementChain({
    provider: options.provider,
    escrowAddress: options.escrowAddress,
    signer: options.signer,
    submitter: options.submitter,
  });
  checkThawingPeriod(await chain.thawingPeriod(), settings);

  const context: SettlementContext = {
    vouchers: options.database.vouchers,
    transactions: options.database.settlementTransactions,
    chain,
    settings,
    logger,
    clock,
  };
  const election = createLeaderElection({
    pool: pgPoolOf(options.database.dataSource),
    lockKey: options.lockKey ?? SETTLEMENT_LOCK_KEY,
    onChange: (leader) => logger.info({ leader }, leader ? "settlement worker leads" : "settlement worker follows"),
    onError: (error) => logger.warn({ err: error }, "settlement leader lock connection failed"),
  });

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let ticks = 0;
  let lastTick: TickReport | null = null;
  let lastError: SettlementWorkerStatus["lastError"] = null;
  let queue: Promise<unknown> = Promise.resolve();

  const runTick = async (): Promise<TickReport> => {
    const started = clock();
    const t0 = performance.now();
    const leader = await election.check();
    const report = emptyReport(started, leader);
    try {
      if (leader) {
        const step = async (name: SettlementStep, run: (c: SettlementContext, r: TickReport) => Promise<void>) => {
          const begun = performance.now();
          try {
            await run(context, report);
          } finally {
            report.stepMs[name] = (report.stepMs[name] ?? 0) + (performance.now() - begun);
          }
        };
        await step("watch", watchTransactions);
        await step("shortfalls", collectShortfalls);
        await step("signers", resignRevokedVouchers);
        await step("build", buildDueVouchers);
        await step("submit", submitPendingVouchers);
        // What was just sent may already be mined (an L2 sequencer, a dev chain): look once more.
        if (report.transactionsSent > 0) await step("watch", watchTransactions);
      }
      return report;
    } catch (error) {
      lastError = { at: clock(), message: chain.describeError(error) };
      throw error;
    } finally {
      report.durationMs = performance.now() - t0;
      ticks += 1;
      lastTick = report;
      if (report.warnings.length) logger.warn({ warnings: report.warnings }, "settlement tick warnings");
    }
  };

  const tick = (): Promise<TickReport> => {
    const next = queue.then(runTick, runTick);
    queue = next.catch(() => undefined);
    return next;
  };

  const schedule = () => {
    if (stopped || options.autoTick === false) return;
    timer = setTimeout(() => {
      tick()
        .catch((error) => logger.error({ err: error }, "settlement tick failed"))
        .finally(schedule);
    }, settings.pollMs);
    timer.unref();
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await queue;
      await election.release();
    },
    tick() {
      if (stopped) return Promise.reject(new Error("the settlement worker is stopped"));
      return tick();
    },
    status() {
      return {
        running: !stopped,
        leader: election.isLeader,
        ticks,
        lastTick,
        lastError,
        chainId: chain.chainId,
        escrow: chain.escrowAddress,
        signer: chain.signerAddress,
        submitter: chain.submitterAddress,
        settings,
      };
    },
  };
}
