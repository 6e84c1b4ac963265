/** One health check of an upstream, as it is kept beyond the instance that made it. */
export interface UpstreamHealthRecord {
  up: boolean;
  checkedAt: Date;
  latencyMs: number;
  /** The HTTP status of the answer; null when none came (no connection, no answer in time). */
  httpStatus: number | null;
  /** Why it is down, in a few words; null when up. */
  error: string | null;
}

/**
 * Where health checks are written, so the Provider page shows the last one after a restart and
 * whichever gateway instance answers it (Postgres: `PostgresUpstreamHealthLog`).
 */
export interface UpstreamHealthLog {
  record(upstreamId: string, check: UpstreamHealthRecord): Promise<void>;
}
