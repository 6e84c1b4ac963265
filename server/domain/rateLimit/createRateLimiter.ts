import type Redis from "ioredis";
import type { RateLimiter } from "../ports";
import {
  type RateLimitFailMode,
  type WarnLogger,
  ThrottledWarning,
  consoleWarnLogger,
  errorMessage,
} from "./failurePolicy";
import { MemoryRateLimiter } from "./memoryRateLimiter";
import { DEFAULT_KEY_PREFIX, RedisRateLimiter } from "./redisRateLimiter";

export interface RateLimiterConfig {
  /** `REDIS_URL`: counters shared by every gateway instance. Unset: in memory, per instance. */
  redisUrl?: string | null;
  keyPrefix?: string;
  failMode?: RateLimitFailMode;
  /** A check that Redis has not answered by then counts as Redis being down. */
  commandTimeoutMs?: number;
  logger?: WarnLogger;
}

export interface RateLimiterHandle {
  limiter: RateLimiter;
  backend: "memory" | "redis";
  close(): Promise<void>;
}

/**
 * The limiter the gateway runs with. With Redis, the client never queues a
 * command while disconnected and gives up on a slow one after
 * `commandTimeoutMs`, so an outage costs each request at most that long before
 * the fail mode applies; it keeps reconnecting in the background. A Redis that
 * is down at start is logged, not fatal.
 */
export async function createRateLimiter(config: RateLimiterConfig = {}): Promise<RateLimiterHandle> {
  const logger = config.logger ?? consoleWarnLogger;
  if (!config.redisUrl) {
    return { limiter: new MemoryRateLimiter(), backend: "memory", close: async () => {} };
  }

  // ioredis is loaded only by gateways that share their counters in Redis.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const RedisClient = (require("ioredis") as { default: typeof Redis }).default;
  const redis = new RedisClient(config.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: config.commandTimeoutMs ?? 250,
  });
  const connectionWarning = new ThrottledWarning(logger, 30_000);
  redis.on("error", (error: unknown) =>
    connectionWarning.warn({ err: errorMessage(error) }, "rate limiter: Redis connection error"),
  );
  try {
    await redis.connect();
  } catch (error) {
    logger.warn({ err: errorMessage(error), failMode: config.failMode ?? "open" }, "rate limiter: Redis unreachable at start; retrying in the background");
  }

  return {
    limiter: new RedisRateLimiter(redis, {
      keyPrefix: config.keyPrefix ?? DEFAULT_KEY_PREFIX,
      failMode: config.failMode,
      logger,
    }),
    backend: "redis",
    close: async () => {
      if (redis.status === "ready") await redis.quit();
      else redis.disconnect();
    },
  };
}
