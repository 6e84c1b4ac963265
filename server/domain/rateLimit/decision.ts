import type { RateLimitDecision } from "../ports";
import type { DimensionReport } from "./gcra";
import { rateLimitHeaders } from "./headers";

/**
 * The decision both implementations return, built from the same reports. A
 * refusal names the limit to wait for: one that can never fit if there is one,
 * else the one with the longest wait (requests on a tie), and that wait is the
 * moment every limit has room again.
 */
export function toDecision(reports: readonly DimensionReport[], allowed: boolean): RateLimitDecision {
  const headers = rateLimitHeaders(reports);
  if (allowed) return { allowed: true, headers };

  const refused = reports.filter((r) => !r.fits);
  const blocking =
    refused.find((r) => !r.retryable) ??
    refused.reduce((worst, r) => (r.waitMs > worst.waitMs ? r : worst));
  const retryAfterMs = Math.max(...refused.map((r) => r.waitMs));
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return {
    allowed: false,
    limit: blocking.dimension,
    limitPerMinute: blocking.perMinute,
    requested: blocking.requested,
    retryable: blocking.retryable,
    retryAfterMs,
    retryAfterSeconds,
    headers: { ...headers, "retry-after": String(retryAfterSeconds), "retry-after-ms": String(retryAfterMs) },
  };
}
