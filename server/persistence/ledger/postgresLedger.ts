import type { Pool } from "pg";
import type { ExpiredHoldSweeper } from "../../domain/ledger/holdSweeper";
import type { HoldRequest, Ledger, UsageRecordInput } from "../../domain/ports";
import { runNamed } from "../pgPool";
import { EXTEND_HOLD, type ExtendHoldRow } from "./extendStatement";
import { HoldReserver, type ReserveResult } from "./holdReserver";
import { EXPIRED_HOLDS, RELEASE_HOLD, type ReleaseHoldRow } from "./releaseStatement";
import { UsageCommitter } from "./usageCommitter";

export interface PostgresLedgerOptions {
  /** The time holds are stamped with and daily caps are counted by; tests pass a fixed one. */
  clock?: () => Date;
  /** Expired holds released per query round by `sweepExpiredHolds`. */
  sweepBatchSize?: number;
  /** Most commits written by one statement. */
  commitBatchSize?: number;
  /** Batches of commits written at the same time, each on its own connection. */
  commitWriters?: number;
}

/**
 * The request's money, over Postgres. Every operation is one statement (a group
 * of reserves or commits is one statement too): see the statements' comments
 * for why each is safe with any number of gateway instances.
 */
export class PostgresLedger implements Ledger, ExpiredHoldSweeper {
  private readonly sweepBatchSize: number;
  private readonly clock: () => Date;
  private readonly reserver: HoldReserver;
  private readonly committer: UsageCommitter;

  constructor(private readonly pool: Pool, options: PostgresLedgerOptions = {}) {
    const clock = options.clock ?? (() => new Date());
    this.clock = clock;
    this.sweepBatchSize = options.sweepBatchSize ?? 500;
    this.reserver = new HoldReserver(pool, clock);
    this.committer = new UsageCommitter(pool, clock, {
      maxBatchSize: options.commitBatchSize,
      maxWriters: options.commitWriters,
    });
  }

  reserve(request: HoldRequest): Promise<ReserveResult> {
    return this.reserver.reserve(request);
  }

  /** Durable when it resolves. */
  commit(record: UsageRecordInput): Promise<void> {
    return this.committer.commit(record);
  }

  async extend(holdId: string, ttlMs: number): Promise<boolean> {
    const expiresAtMs = this.clock().getTime() + ttlMs;
    const [row] = await runNamed<ExtendHoldRow>(this.pool, EXTEND_HOLD, [holdId, expiresAtMs]);
    return row.extended === 1;
  }

  async release(holdId: string): Promise<void> {
    await this.releaseHold(holdId);
  }

  /** Whether this call gave the hold back (false: it was already committed, released or swept). */
  async releaseHold(holdId: string): Promise<boolean> {
    const [row] = await runNamed<ReleaseHoldRow>(this.pool, RELEASE_HOLD, [holdId]);
    return row.released === 1;
  }

  /**
   * Releases, one by one, every hold that expired at or before `now`. Each goes
   * through the same statement as `release`, so a commit arriving at the same
   * moment either deletes the hold first (and this skips it) or finds it gone
   * (and records the usage without giving anything back twice).
   */
  async sweepExpiredHolds(now: Date): Promise<number> {
    let released = 0;
    for (;;) {
      const expired = await runNamed<{ id: string }>(this.pool, EXPIRED_HOLDS, [now, this.sweepBatchSize]);
      for (const { id } of expired) {
        if (await this.releaseHold(id)) released += 1;
      }
      if (expired.length < this.sweepBatchSize) return released;
    }
  }

  /** Resolves when every reserve and commit received so far is written (for a clean shutdown). */
  async drained(): Promise<void> {
    await Promise.all([this.reserver.drained(), this.committer.drained()]);
  }
}
