import type { Pool } from "pg";
import type { UsageRecordInput } from "../../domain/ports";
import { runNamed } from "../pgPool";
import { COMMIT_USAGE_BATCH, commitUsageBatchValues, RECORDED_REQUESTS } from "./commitBatchStatement";
import { COMMIT_USAGE, commitUsageValues, type CommitUsageRow } from "./commitStatement";
import { GroupCommitQueue, type BatchOutcomes, type GroupCommitOptions } from "./groupCommitQueue";

/**
 * Writes usage records and releases their holds, grouping the commits that
 * arrive together into one statement (see GroupCommitQueue). A commit resolves
 * only once its record is durably written: these statements commit
 * synchronously (unlike the reserves and releases).
 */
export class UsageCommitter {
  private readonly queue: GroupCommitQueue<UsageRecordInput, void>;

  constructor(private readonly pool: Pool, private readonly clock: () => Date, options: GroupCommitOptions = {}) {
    this.queue = new GroupCommitQueue((records) => this.writeBatch(records), options);
  }

  commit(record: UsageRecordInput): Promise<void> {
    return this.queue.write(record);
  }

  /** Resolves when every commit received so far is written. */
  drained(): Promise<void> {
    return this.queue.drained();
  }

  private async writeBatch(records: UsageRecordInput[]): Promise<BatchOutcomes<void>> {
    if (records.length === 1) return [await this.writeOne(records[0]).then(() => undefined, asError)];
    // A request committed twice within one batch is written once; both callers get its outcome.
    const unique = [...new Map(records.map((record) => [record.requestId, record])).values()].sort((a, b) =>
      a.requestId < b.requestId ? -1 : a.requestId > b.requestId ? 1 : 0,
    );
    let outcomeByRequest: Map<string, Error | undefined>;
    try {
      outcomeByRequest = await this.writeMany(unique);
    } catch {
      // One impossible record (a constraint it breaks) must not fail its neighbours: write them one by one.
      const outcomes = await Promise.all(unique.map((record) => this.writeOne(record).then(() => undefined, asError)));
      outcomeByRequest = new Map(unique.map((record, index) => [record.requestId, outcomes[index]]));
    }
    return records.map((record) => outcomeByRequest.get(record.requestId));
  }

  private async writeMany(records: UsageRecordInput[]): Promise<Map<string, Error | undefined>> {
    const [row] = await runNamed<CommitUsageRow>(
      this.pool,
      COMMIT_USAGE_BATCH,
      commitUsageBatchValues(records, this.clock().getTime()),
    );
    const outcomes = new Map<string, Error | undefined>(records.map((record) => [record.requestId, undefined]));
    if (row.recorded < records.length) {
      // Some were not written: those with a record already (an earlier commit of theirs) are fine; the others name
      // a key that is not their account's.
      const recorded = await this.alreadyRecorded(records.map((record) => record.requestId));
      for (const record of records) {
        if (!recorded.has(record.requestId)) outcomes.set(record.requestId, keyMismatch(record));
      }
    }
    return outcomes;
  }

  private async writeOne(record: UsageRecordInput): Promise<void> {
    const [row] = await runNamed<CommitUsageRow>(
      this.pool,
      COMMIT_USAGE,
      commitUsageValues(record, this.clock().getTime()),
    );
    if (row.recorded === 1) return;
    // Nothing written: either an earlier commit of this request did it (fine), or the key is not the account's.
    if (!(await this.alreadyRecorded([record.requestId])).has(record.requestId)) throw keyMismatch(record);
  }

  private async alreadyRecorded(requestIds: string[]): Promise<Set<string>> {
    const rows = await runNamed<{ request_id: string }>(this.pool, RECORDED_REQUESTS, [requestIds]);
    return new Set(rows.map((row) => row.request_id));
  }
}

function keyMismatch(record: UsageRecordInput): Error {
  return new Error(`cannot record request ${record.requestId}: key ${record.keyId} is not a key of ${record.account}`);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
