import type { Pool } from "pg";
import type { UpstreamHealthLog, UpstreamHealthRecord } from "../../providers/health/upstreamHealthLog";
import type { UpstreamRow } from "../entities/provider";
import { runNamed, type NamedStatement } from "../pgPool";
import { isUuid } from "../uuid";

/** What `health_error` keeps: enough for "Could not connect: ECONNREFUSED." or an HTTP status line. */
export const HEALTH_ERROR_MAX_CHARS = 200;

/**
 * One UPDATE of the upstream's own row. Every gateway instance checks every upstream, so results
 * race: a result older than the stored one is dropped rather than written over it. A removed
 * upstream keeps the last health it had.
 */
const RECORD_HEALTH: NamedStatement = {
  name: "upstream_record_health",
  text: `
UPDATE upstreams
SET health_status = $2, health_checked_at = $3, health_latency_ms = $4, health_http_status = $5, health_error = $6
WHERE id = $1 AND removed_at IS NULL AND (health_checked_at IS NULL OR health_checked_at <= $3)`,
};

export class PostgresUpstreamHealthLog implements UpstreamHealthLog {
  constructor(private readonly pool: Pool) {}

  async record(upstreamId: string, check: UpstreamHealthRecord): Promise<void> {
    if (!isUuid(upstreamId)) return;
    const row = healthFields(check);
    await runNamed(this.pool, RECORD_HEALTH, [
      upstreamId,
      row.healthStatus,
      row.healthCheckedAt,
      row.healthLatencyMs,
      row.healthHttpStatus,
      row.healthError,
    ]);
  }
}

export type UpstreamHealthFields = Pick<
  UpstreamRow,
  "healthStatus" | "healthCheckedAt" | "healthLatencyMs" | "healthHttpStatus" | "healthError"
>;

/** A check as the upstream row's columns, clamped to what they accept. */
export function healthFields(check: UpstreamHealthRecord): UpstreamHealthFields {
  return {
    healthStatus: check.up ? "up" : "down",
    healthCheckedAt: check.checkedAt,
    healthLatencyMs: Math.min(2_147_483_647, Math.max(0, Math.round(check.latencyMs))),
    healthHttpStatus: check.httpStatus,
    healthError: check.error === null ? null : shortError(check.error),
  };
}

/** The row's last check; null when it was never checked. */
export function healthOfRow(row: UpstreamHealthFields): UpstreamHealthRecord | null {
  if (row.healthStatus === null || row.healthCheckedAt === null) return null;
  return {
    up: row.healthStatus === "up",
    checkedAt: row.healthCheckedAt,
    latencyMs: row.healthLatencyMs ?? 0,
    httpStatus: row.healthHttpStatus,
    error: row.healthError,
  };
}

function shortError(error: string): string {
  const oneLine = error.replace(/\s+/g, " ").trim();
  return oneLine.length <= HEALTH_ERROR_MAX_CHARS ? oneLine : `${oneLine.slice(0, HEALTH_ERROR_MAX_CHARS - 1)}…`;
}
