import type { RateLimitCost, RateLimits } from "../ports";

/**
 * The rate-limit arithmetic, shared by every implementation: a GCRA (a leaky
 * bucket that drains continuously) kept in exact integers.
 *
 * A limit of `L` per minute is a bucket of capacity `L × WINDOW_MS` that drains
 * `L` per millisecond; one request (or one token) pours in `WINDOW_MS`. Every
 * quantity is then an integer, whatever `L` is: no fractional emission interval,
 * so no drift. The stored "level" is in count·milliseconds and does not depend
 * on the limit, so changing a key's limit keeps what it has already used.
 *
 * `server/domain/rateLimit/redisScript.ts` mirrors `drain` and the admission test
 * in Lua; both work on IEEE doubles, exact here because every value stays below
 * 2^53 (see the bounds below), so the two implementations decide identically.
 */

/** Limits are per minute. */
export const WINDOW_MS = 60_000;
/** The largest limit accepted: its bucket (6e13) stays far below 2^53. */
export const MAX_LIMIT_PER_MINUTE = 1_000_000_000;
/** A level never goes above this (debt from `adjustTokens`), so sums stay below 2^53. */
export const MAX_LEVEL = 2 ** 52;
/** Costs are clamped here: any cost above every capacity is refused the same way. */
export const MAX_COST = MAX_LIMIT_PER_MINUTE + 1;
/** Adjustments are clamped here, so `level + delta × WINDOW_MS` stays below 2^53. */
export const MAX_DELTA_TOKENS = Math.floor(MAX_LEVEL / WINDOW_MS);

export type Dimension = "requests" | "tokens";
export const DIMENSIONS: readonly Dimension[] = ["requests", "tokens"];

/** One dimension's stored state. */
export interface Bucket {
  /** Count × ms not yet drained at `updatedAtMs`. */
  level: number;
  updatedAtMs: number;
}

/** The level of `bucket` at `nowMs` after draining at `perMinute`. A clock that went back drains nothing. */
export function drain(bucket: Bucket | undefined, perMinute: number, nowMs: number): number {
  if (!bucket || bucket.level <= 0) return 0;
  const elapsedMs = Math.max(0, nowMs - bucket.updatedAtMs);
  // Compared first so that `elapsedMs × perMinute` is never much larger than the level.
  if (elapsedMs >= Math.ceil(bucket.level / perMinute)) return 0;
  return bucket.level - elapsedMs * perMinute;
}

/**
 * A key's stored state is dropped this long after its buckets are empty (both
 * implementations: Map sweep, Redis TTL). The grace keeps state written under
 * an injected clock alive while a test's fake time and Redis's real expiry differ.
 */
export const EXPIRY_GRACE_MS = 10_000;

/** The level after admitting `cost`. */
export function chargedLevel(level: number, cost: number): number {
  return level + cost * WINDOW_MS;
}

/** Milliseconds until a bucket at `level` is empty. */
export function drainMs(level: number, perMinute: number): number {
  return Math.ceil(level / perMinute);
}

/** Whether `cost` more fits into a bucket of `perMinute` at `level`. */
export function fits(level: number, perMinute: number, cost: number): boolean {
  return chargedLevel(level, cost) <= perMinute * WINDOW_MS;
}

/** A level plus a signed adjustment, kept within [0, MAX_LEVEL]. */
export function adjustedLevel(level: number, deltaTokens: number): number {
  return Math.min(MAX_LEVEL, Math.max(0, level + deltaTokens * WINDOW_MS));
}

/** How one dimension stands after a decision, for the headers and the refusal. */
export interface DimensionReport {
  dimension: Dimension;
  perMinute: number;
  requested: number;
  fits: boolean;
  /** Whether waiting can ever help: false when the cost is larger than the whole limit. */
  retryable: boolean;
  /** Whole units still available after the decision. */
  remaining: number;
  /** Milliseconds until the bucket is back to full (empty level), after the decision. */
  resetMs: number;
  /** Milliseconds until the cost fits (0 when it fits now). */
  waitMs: number;
}

/** Reports a dimension whose level (already drained to now) was or was not charged `cost`. */
export function report(
  dimension: Dimension,
  levelBefore: number,
  perMinute: number,
  cost: number,
  charged: boolean,
): DimensionReport {
  const capacity = perMinute * WINDOW_MS;
  const need = cost * WINDOW_MS;
  const levelAfter = charged ? chargedLevel(levelBefore, cost) : levelBefore;
  const doesFit = levelBefore + need <= capacity;
  const retryable = need <= capacity;
  const resetMs = drainMs(levelAfter, perMinute);
  return {
    dimension,
    perMinute,
    requested: cost,
    fits: doesFit,
    retryable,
    remaining: Math.floor(Math.max(0, capacity - levelAfter) / WINDOW_MS),
    resetMs,
    // A cost that can never fit: the best moment to look again is when the bucket is empty.
    waitMs: doesFit ? 0 : retryable ? Math.ceil((levelBefore + need - capacity) / perMinute) : resetMs,
  };
}

/** The limits that are set, with the cost each one is charged. */
export function activeDimensions(
  limits: RateLimits,
  cost: RateLimitCost,
): { dimension: Dimension; perMinute: number; cost: number }[] {
  const active: { dimension: Dimension; perMinute: number; cost: number }[] = [];
  if (limits.requestsPerMinute !== null) {
    active.push({ dimension: "requests", perMinute: limits.requestsPerMinute, cost: cost.requests });
  }
  if (limits.tokensPerMinute !== null) {
    active.push({ dimension: "tokens", perMinute: limits.tokensPerMinute, cost: cost.tokens });
  }
  return active;
}

/** Throws on a limit or cost that is a programming error; clamps a cost that is merely huge. */
export function validated(limits: RateLimits, cost: RateLimitCost): { limits: RateLimits; cost: RateLimitCost } {
  checkLimit("requestsPerMinute", limits.requestsPerMinute);
  checkLimit("tokensPerMinute", limits.tokensPerMinute);
  return {
    limits: { requestsPerMinute: limits.requestsPerMinute, tokensPerMinute: limits.tokensPerMinute },
    cost: { requests: clampedCost("requests", cost.requests), tokens: clampedCost("tokens", cost.tokens) },
  };
}

function checkLimit(name: string, value: number | null): void {
  if (value !== null && !(Number.isInteger(value) && value >= 1 && value <= MAX_LIMIT_PER_MINUTE)) {
    throw new RangeError(`rate limit ${name} must be null or an integer in [1, ${MAX_LIMIT_PER_MINUTE}], got ${value}`);
  }
}

function clampedCost(name: string, value: number): number {
  if (!(Number.isInteger(value) && value >= 0)) {
    throw new RangeError(`rate-limit cost ${name} must be a non-negative integer, got ${value}`);
  }
  return Math.min(value, MAX_COST);
}

/** Throws on a non-integer adjustment; clamps a huge one. */
export function validatedDelta(deltaTokens: number): number {
  if (!Number.isInteger(deltaTokens)) {
    throw new RangeError(`rate-limit token adjustment must be an integer, got ${deltaTokens}`);
  }
  return Math.max(-MAX_DELTA_TOKENS, Math.min(MAX_DELTA_TOKENS, deltaTokens));
}
