/**
 * What a limiter backed by a shared store does when the store cannot answer.
 * - "open": admit the request without limits and log a warning (the default).
 *   Rate limits protect fairness and providers, not money: balances and holds
 *   live in Postgres and are enforced whatever Redis does.
 * - "closed": throw `RateLimiterUnavailableError`, so the request fails (503).
 */
export type RateLimitFailMode = "open" | "closed";

/** A pino logger fits. */
export interface WarnLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export class RateLimiterUnavailableError extends Error {
  readonly status = 503;
  constructor(cause: unknown) {
    super("The rate limiter's store is unavailable", { cause });
    this.name = "RateLimiterUnavailableError";
  }
}

/** Logs the first failure at once, then at most one line per interval with how many it left out. */
export class ThrottledWarning {
  private lastAtMs = -Infinity;
  private suppressed = 0;

  constructor(
    private readonly logger: WarnLogger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    if (now - this.lastAtMs < this.intervalMs) {
      this.suppressed += 1;
      return;
    }
    this.logger.warn({ ...fields, suppressed: this.suppressed }, message);
    this.lastAtMs = now;
    this.suppressed = 0;
  }
}

export const consoleWarnLogger: WarnLogger = {
  warn: (fields, message) => console.warn(JSON.stringify({ level: "warn", msg: message, ...fields })),
};

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
