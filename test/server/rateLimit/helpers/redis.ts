import Redis from "ioredis";

export const redisUrl = process.env.REDIS_URL;

/** A prefix no other run uses, so runs never see each other's counters. */
export function uniqueKeyPrefix(label: string): string {
  return `shareai-test:${label}:${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}:`;
}

/** Skips the calling suite, saying why, when there is no Redis to test against. */
export function requireRedis(context: Mocha.Context): void {
  if (!redisUrl) {
    console.warn("    (skipped: set REDIS_URL, e.g. redis://127.0.0.1:6379, to run the Redis rate-limiter tests)");
    context.skip();
  }
}

export function newRedis(): Redis {
  return new Redis(redisUrl as string);
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}
