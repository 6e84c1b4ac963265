import type { Redis } from "ioredis";
import type { RateLimitCost, RateLimitDecision, RateLimiter, RateLimits } from "../ports";
import { toDecision } from "./decision";
import { activeDimensions, report, validated, validatedDelta } from "./gcra";
import {
  type RateLimitFailMode,
  type WarnLogger,
  RateLimiterUnavailableError,
  ThrottledWarning,
  consoleWarnLogger,
  errorMessage,
} from "./failurePolicy";
import { ADJUST_SCRIPT, CHECK_SCRIPT } from "./redisScript";

export interface RedisRateLimiterOptions {
  /** Prepended to the API key id to name its hash. */
  keyPrefix?: string;
  /**
   * Milliseconds since the epoch, passed to the script. Leave unset in production:
   * the script then reads Redis's `TIME`, one clock for every gateway instance.
   * Tests pass a fake clock to run the same behaviour suite as the memory limiter.
   */
  clock?: () => number;
  failMode?: RateLimitFailMode;
  logger?: WarnLogger;
}

const CHECK = "shareaiRateLimitCheck";
const ADJUST = "shareaiRateLimitAdjust";

interface RateLimitCommands {
  [CHECK](key: string, now: string, rpm: number, requests: number, tpm: number, tokens: number): Promise<[number, number, number]>;
  [ADJUST](key: string, now: string, rpm: number, tpm: number, deltaTokens: number): Promise<number>;
}

export const DEFAULT_KEY_PREFIX = "shareai:ratelimit:";

/**
 * Rate limits shared by every gateway instance on one Redis: one hash per API
 * key, one Lua script per call (one round trip, atomic), a TTL on every hash.
 * A key without limits costs no Redis call.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis & RateLimitCommands;
  private readonly keyPrefix: string;
  private readonly clock: (() => number) | undefined;
  private readonly failMode: RateLimitFailMode;
  private readonly warning: ThrottledWarning;

  constructor(redis: Redis, options: RedisRateLimiterOptions = {}) {
    if (!(CHECK in redis)) redis.defineCommand(CHECK, { numberOfKeys: 1, lua: CHECK_SCRIPT });
    if (!(ADJUST in redis)) redis.defineCommand(ADJUST, { numberOfKeys: 1, lua: ADJUST_SCRIPT });
    this.redis = redis as Redis & RateLimitCommands;
    this.keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.clock = options.clock;
    this.failMode = options.failMode ?? "open";
    this.warning = new ThrottledWarning(options.logger ?? consoleWarnLogger);
  }

  async check(keyId: string, rawLimits: RateLimits, rawCost: RateLimitCost): Promise<RateLimitDecision> {
    const { limits, cost } = validated(rawLimits, rawCost);
    const active = activeDimensions(limits, cost);
    if (active.length === 0) return { allowed: true, headers: {} };

    let reply: [number, number, number];
    try {
      reply = await this.redis[CHECK](
        this.keyPrefix + keyId,
        this.now(),
        limits.requestsPerMinute ?? 0,
        cost.requests,
        limits.tokensPerMinute ?? 0,
        cost.tokens,
      );
    } catch (error) {
      if (this.failMode === "closed") throw new RateLimiterUnavailableError(error);
      this.warning.warn({ err: errorMessage(error), keyId }, "rate limiter: Redis unavailable, request admitted without limits");
      return { allowed: true, headers: {} };
    }
    const [allowedFlag, requestsLevel, tokensLevel] = reply;
    const allowed = allowedFlag === 1;
    return toDecision(
      active.map((d) =>
        report(d.dimension, d.dimension === "requests" ? requestsLevel : tokensLevel, d.perMinute, d.cost, allowed),
      ),
      allowed,
    );
  }

  /** Never throws for Redis: a lost correction only makes the next minute slightly too strict or lenient. */
  async adjustTokens(keyId: string, rawLimits: RateLimits, deltaTokens: number): Promise<void> {
    const { limits } = validated(rawLimits, { requests: 0, tokens: 0 });
    const delta = validatedDelta(deltaTokens);
    if (limits.tokensPerMinute === null || delta === 0) return;
    try {
      await this.redis[ADJUST](
        this.keyPrefix + keyId,
        this.now(),
        limits.requestsPerMinute ?? 0,
        limits.tokensPerMinute,
        delta,
      );
    } catch (error) {
      this.warning.warn({ err: errorMessage(error), keyId, deltaTokens: delta }, "rate limiter: Redis unavailable, token adjustment lost");
    }
  }

  private now(): string {
    return this.clock ? String(this.clock()) : "";
  }
}
