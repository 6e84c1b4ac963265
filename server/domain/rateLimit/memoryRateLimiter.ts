import type { RateLimitCost, RateLimitDecision, RateLimiter, RateLimits } from "../ports";
import { toDecision } from "./decision";
import {
  type Bucket,
  EXPIRY_GRACE_MS,
  activeDimensions,
  adjustedLevel,
  chargedLevel,
  drain,
  drainMs,
  fits,
  report,
  validated,
  validatedDelta,
} from "./gcra";

export interface MemoryRateLimiterOptions {
  /** Milliseconds since the epoch; `Date.now` unless a test passes a fake clock. */
  clock?: () => number;
  /** How often (in clock time) expired entries are swept out. */
  sweepIntervalMs?: number;
}

interface Entry {
  requests?: Bucket;
  tokens?: Bucket;
  /** Like a Redis key's TTL: past this the entry is gone, whether swept yet or not. */
  expiresAtMs: number;
}

/**
 * Rate limits for a single gateway instance, in a Map: the same arithmetic and
 * the same expiry rule as the Redis implementation, but counters are not shared.
 *
 * Memory stays bounded by the keys used within the last minute or so: an entry
 * expires once its buckets are empty (plus a grace), and a sweep, run by a call
 * at most once per `sweepIntervalMs` and with no timer, deletes expired ones.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly clock: () => number;
  private readonly sweepIntervalMs: number;
  private readonly entries = new Map<string, Entry>();
  private nextSweepAtMs: number;

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.nextSweepAtMs = this.clock() + this.sweepIntervalMs;
  }

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.entries.size;
  }

  async check(keyId: string, rawLimits: RateLimits, rawCost: RateLimitCost): Promise<RateLimitDecision> {
    const { limits, cost } = validated(rawLimits, rawCost);
    const active = activeDimensions(limits, cost);
    if (active.length === 0) return { allowed: true, headers: {} };

    const now = this.clock();
    this.sweepIfDue(now);
    const entry = this.live(keyId, now);
    const levels = active.map((d) => drain(entry?.[d.dimension], d.perMinute, now));
    const allowed = active.every((d, i) => fits(levels[i], d.perMinute, d.cost));

    if (allowed) {
      const next: Entry = { ...entry, expiresAtMs: now };
      let emptyInMs = 0;
      active.forEach((d, i) => {
        const level = chargedLevel(levels[i], d.cost);
        next[d.dimension] = { level, updatedAtMs: now };
        emptyInMs = Math.max(emptyInMs, drainMs(level, d.perMinute));
      });
      next.expiresAtMs = now + emptyInMs + EXPIRY_GRACE_MS;
      this.entries.set(keyId, next);
    }
    return toDecision(
      active.map((d, i) => report(d.dimension, levels[i], d.perMinute, d.cost, allowed)),
      allowed,
    );
  }

  async adjustTokens(keyId: string, rawLimits: RateLimits, deltaTokens: number): Promise<void> {
    const { limits } = validated(rawLimits, { requests: 0, tokens: 0 });
    const delta = validatedDelta(deltaTokens);
    if (limits.tokensPerMinute === null || delta === 0) return;

    const now = this.clock();
    this.sweepIfDue(now);
    const entry = this.live(keyId, now);
    if (!entry && delta < 0) return;
    const tokens = adjustedLevel(drain(entry?.tokens, limits.tokensPerMinute, now), delta);
    let emptyInMs = drainMs(tokens, limits.tokensPerMinute);
    if (limits.requestsPerMinute !== null) {
      emptyInMs = Math.max(emptyInMs, drainMs(drain(entry?.requests, limits.requestsPerMinute, now), limits.requestsPerMinute));
    }
    this.entries.set(keyId, {
      ...entry,
      tokens: { level: tokens, updatedAtMs: now },
      expiresAtMs: now + emptyInMs + EXPIRY_GRACE_MS,
    });
  }

  private live(keyId: string, now: number): Entry | undefined {
    const entry = this.entries.get(keyId);
    return entry && entry.expiresAtMs > now ? entry : undefined;
  }

  private sweepIfDue(now: number): void {
    if (now < this.nextSweepAtMs) return;
    this.nextSweepAtMs = now + this.sweepIntervalMs;
    for (const [keyId, entry] of this.entries) {
      if (entry.expiresAtMs <= now) this.entries.delete(keyId);
    }
  }
}
