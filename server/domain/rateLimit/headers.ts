import type { RateLimitHeaders } from "../ports";
import type { DimensionReport } from "./gcra";

/**
 * A duration in OpenAI's `x-ratelimit-reset-*` format, which is Go's
 * `time.Duration` string at millisecond resolution: `0s`, `20ms`, `6s`, `1.5s`,
 * `1m0s`, `1h2m3.04s`.
 */
export function formatResetDuration(ms: number): string {
  if (ms <= 0) return "0s";
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const secondsMs = ms % 60_000;
  const wholeSeconds = Math.floor(secondsMs / 1000);
  const fraction = secondsMs % 1000;
  const seconds = fraction
    ? `${wholeSeconds}.${String(fraction).padStart(3, "0").replace(/0+$/, "")}s`
    : `${wholeSeconds}s`;
  if (hours) return `${hours}h${minutes}m${seconds}`;
  if (minutes) return `${minutes}m${seconds}`;
  return seconds;
}

/** OpenAI's trio of headers for each limit that is set. */
export function rateLimitHeaders(reports: readonly DimensionReport[]): RateLimitHeaders {
  const headers: RateLimitHeaders = {};
  for (const r of reports) {
    headers[`x-ratelimit-limit-${r.dimension}`] = String(r.perMinute);
    headers[`x-ratelimit-remaining-${r.dimension}`] = String(r.remaining);
    headers[`x-ratelimit-reset-${r.dimension}`] = formatResetDuration(r.resetMs);
  }
  return headers;
}
