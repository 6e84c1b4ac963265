import type { Pool } from "pg";
import { runNamed, type NamedStatement } from "../pgPool";

/**
 * Sets api_keys.last_used_at for every key used since the previous flush, in
 * one UPDATE. The rows are locked in key-id order first, so two instances
 * flushing overlapping sets of keys cannot deadlock; GREATEST keeps a late,
 * older timestamp from moving last_used_at backwards.
 *
 * $1 key ids · $2 their last-use times (same length)
 */
const TOUCH_KEYS: NamedStatement = {
  name: "api_keys_touch",
  text: `
WITH touched AS (
  SELECT t.id, max(t.at) AS at
  FROM unnest($1::uuid[], $2::timestamptz[]) AS t(id, at)
  GROUP BY t.id
),
locked AS (
  SELECT k.id FROM api_keys k JOIN touched t ON t.id = k.id
  ORDER BY k.id
  FOR NO KEY UPDATE OF k
)
UPDATE api_keys k SET last_used_at = GREATEST(k.last_used_at, t.at)
FROM touched t JOIN locked l ON l.id = t.id
WHERE k.id = t.id`,
};

export interface KeyUsageBatcherOptions {
  flushIntervalMs?: number;
  /** A failed flush is reported here and its keys are retried at the next one. */
  onError?: (error: unknown) => void;
}

/** Collects key uses in memory so that authentication never waits on a write. */
export class KeyUsageBatcher {
  private pending = new Map<string, Date>();
  private flushing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private readonly onError: (error: unknown) => void;

  constructor(private readonly pool: Pool, options: KeyUsageBatcherOptions = {}) {
    this.onError = options.onError ?? (() => undefined);
    this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  record(keyId: string, at: Date): void {
    const previous = this.pending.get(keyId);
    if (!previous || previous < at) this.pending.set(keyId, at);
  }

  /** Writes what was collected so far; flushes run one after another, never two at once. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.writePending());
    return this.flushing;
  }

  /** Stops the timer and writes the last uses. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  private async writePending(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    try {
      await runNamed(this.pool, TOUCH_KEYS, [[...batch.keys()], [...batch.values()]]);
    } catch (error) {
      for (const [keyId, at] of batch) this.record(keyId, at);
      this.onError(error);
    }
  }
}
