/**
 * The periodic job that gives back the holds of requests whose gateway instance
 * died before ending them. Every instance may run it: the ledger's release is
 * idempotent, so two sweepers, or a sweeper and a late commit, never give a hold
 * back twice.
 */

export interface ExpiredHoldSweeper {
  /** Releases every hold whose expiry is at or before `now`; resolves to how many it released. */
  sweepExpiredHolds(now: Date): Promise<number>;
}

export interface HoldSweeperOptions {
  intervalMs: number;
  onError: (error: unknown) => void;
  onSwept?: (released: number) => void;
  clock?: () => Date;
}

export interface RunningHoldSweeper {
  /** Stops the timer and waits for a sweep in progress to finish. */
  stop(): Promise<void>;
}

export function startHoldSweeper(sweeper: ExpiredHoldSweeper, options: HoldSweeperOptions): RunningHoldSweeper {
  const clock = options.clock ?? (() => new Date());
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inProgress: Promise<void> = Promise.resolve();

  const sweepOnce = async () => {
    try {
      const released = await sweeper.sweepExpiredHolds(clock());
      if (released > 0) options.onSwept?.(released);
    } catch (error) {
      options.onError(error);
    }
  };
  // A new sweep is scheduled only after the previous one ended, so sweeps never overlap.
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      inProgress = sweepOnce().then(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inProgress;
    },
  };
}
