import { expect } from "chai";
import type Redis from "ioredis";
import type { RateLimitCost, RateLimits } from "../../../server/domain/ports";
import {
  MemoryRateLimiter,
  RateLimiterUnavailableError,
  RedisRateLimiter,
  createRateLimiter,
} from "../../../server/domain/rateLimit";
import type { WarnLogger } from "../../../server/domain/rateLimit";
import { FakeClock } from "./helpers/fakeClock";
import { deleteKeys, newRedis, redisUrl, requireRedis, uniqueKeyPrefix } from "./helpers/redis";
import { shouldBehaveLikeARateLimiter } from "./rateLimiter.behavior";

const rpm = (requestsPerMinute: number): RateLimits => ({ requestsPerMinute, tokensPerMinute: null });
const one: RateLimitCost = { requests: 1, tokens: 0 };

/** Collects warnings instead of printing them. */
function recordingLogger(): WarnLogger & { lines: { fields: Record<string, unknown>; message: string }[] } {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  return { lines, warn: (fields, message) => lines.push({ fields, message }) };
}

describe("RedisRateLimiter", function () {
  const prefix = uniqueKeyPrefix("ratelimit");
  let redis: Redis;
  let secondGateway: Redis;

  before(function () {
    requireRedis(this);
    redis = newRedis();
    secondGateway = newRedis();
  });

  after(async () => {
    if (!redis) return;
    await deleteKeys(redis, prefix);
    await Promise.all([redis.quit(), secondGateway.quit()]);
  });

  describe("behaves like a rate limiter (fake clock passed to the script)", () => {
    shouldBehaveLikeARateLimiter((clock) => new RedisRateLimiter(redis, { keyPrefix: prefix, clock }));
  });

  it("decides exactly like the memory limiter on a long random run", async () => {
    const clock = new FakeClock();
    const memory = new MemoryRateLimiter({ clock: clock.now });
    const shared = new RedisRateLimiter(redis, { keyPrefix: `${prefix}equiv:`, clock: clock.now });
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    // Each key keeps its limits: under a fake clock, Redis's real-time TTL outlives the
    // fake expiry, which only matters if a key's limits change (covered above, without time).
    const keyLimits: RateLimits[] = [
      { requestsPerMinute: 3, tokensPerMinute: 1000 },
      { requestsPerMinute: 7, tokensPerMinute: null },
      { requestsPerMinute: null, tokensPerMinute: 12_345 },
      { requestsPerMinute: 60, tokensPerMinute: 7 },
      { requestsPerMinute: 1, tokensPerMinute: 4000 },
    ];
    const outcomes = { allowed: 0, refused: 0, tooLarge: 0 };
    for (let step = 0; step < 3000; step++) {
      const k = random(keyLimits.length);
      const keyId = `k${k}`;
      const limits = keyLimits[k];
      clock.advance(random(4) === 0 ? random(90_000) : random(700));
      if (random(5) === 0) {
        const delta = random(3000) - 2000;
        await memory.adjustTokens(keyId, limits, delta);
        await shared.adjustTokens(keyId, limits, delta);
      } else {
        const c: RateLimitCost = { requests: 1, tokens: random(2000) };
        const expected = await memory.check(keyId, limits, c);
        expect(await shared.check(keyId, limits, c), `step ${step}`).to.deep.equal(expected);
        outcomes[expected.allowed ? "allowed" : expected.retryable ? "refused" : "tooLarge"] += 1;
      }
    }
    for (const [outcome, count] of Object.entries(outcomes)) {
      expect(count, `the run exercises ${outcome}`).to.be.above(50);
    }
  });

  describe("on Redis's clock (production mode)", () => {
    it("two gateway instances share one key's counters", async () => {
      const gatewayA = new RedisRateLimiter(redis, { keyPrefix: prefix });
      const gatewayB = new RedisRateLimiter(secondGateway, { keyPrefix: prefix });
      for (let i = 0; i < 5; i++) {
        expect((await gatewayA.check("shared", rpm(10), one)).allowed).to.equal(true);
        expect((await gatewayB.check("shared", rpm(10), one)).allowed).to.equal(true);
      }
      expect((await gatewayA.check("shared", rpm(10), one)).allowed).to.equal(false);
      expect((await gatewayB.check("shared", rpm(10), one)).allowed).to.equal(false);
    });

    it("200 concurrent checks from two instances against a limit of 50 admit exactly 50", async () => {
      const gateways = [
        new RedisRateLimiter(redis, { keyPrefix: prefix }),
        new RedisRateLimiter(secondGateway, { keyPrefix: prefix }),
      ];
      const decisions = await Promise.all(
        Array.from({ length: 200 }, (_, i) => gateways[i % 2].check("crowd", rpm(50), one)),
      );
      expect(decisions.filter((d) => d.allowed)).to.have.length(50);
    });

    it("a refund from one instance is seen by the other", async () => {
      const gatewayA = new RedisRateLimiter(redis, { keyPrefix: prefix });
      const gatewayB = new RedisRateLimiter(secondGateway, { keyPrefix: prefix });
      const limits: RateLimits = { requestsPerMinute: null, tokensPerMinute: 1_000_000 };
      expect((await gatewayA.check("refund", limits, { requests: 1, tokens: 1_000_000 })).allowed).to.equal(true);
      expect((await gatewayB.check("refund", limits, { requests: 1, tokens: 500_000 })).allowed).to.equal(false);
      await gatewayA.adjustTokens("refund", limits, -900_000);
      expect((await gatewayB.check("refund", limits, { requests: 1, tokens: 500_000 })).allowed).to.equal(true);
    });

    it("retry-after holds in real time", async () => {
      const limiter = new RedisRateLimiter(redis, { keyPrefix: prefix });
      const limits: RateLimits = { requestsPerMinute: null, tokensPerMinute: 6000 }; // 100 tokens/s
      expect((await limiter.check("wait", limits, { requests: 1, tokens: 6000 })).allowed).to.equal(true);
      const refused = await limiter.check("wait", limits, { requests: 1, tokens: 30 });
      if (refused.allowed) expect.fail("expected a refusal");
      expect(refused.retryAfterMs).to.be.within(250, 300);
      expect(refused.retryAfterSeconds).to.equal(1);
      await new Promise((resolve) => setTimeout(resolve, refused.retryAfterMs + 2));
      expect((await limiter.check("wait", limits, { requests: 1, tokens: 30 })).allowed).to.equal(true);
    });

    it("puts a TTL on every key: until it has drained, plus a grace", async () => {
      const limiter = new RedisRateLimiter(redis, { keyPrefix: prefix });
      await limiter.check("ttl", { requestsPerMinute: 2, tokensPerMinute: 600 }, { requests: 1, tokens: 100 });
      // Requests drain in 30 s, tokens in 10 s; grace 10 s.
      expect(await redis.pttl(`${prefix}ttl`)).to.be.within(39_000, 40_000);
      await limiter.adjustTokens("ttl", { requestsPerMinute: 2, tokensPerMinute: 600 }, 500); // 600 tokens: 60 s
      expect(await redis.pttl(`${prefix}ttl`)).to.be.within(69_000, 70_000);
    });

    it("makes no Redis call for a key without limits, nor for a zero adjustment", async () => {
      const limiter = new RedisRateLimiter(redis, { keyPrefix: prefix });
      const original = redis.sendCommand.bind(redis);
      let calls = 0;
      redis.sendCommand = ((...args: Parameters<Redis["sendCommand"]>) => {
        calls += 1;
        return original(...args);
      }) as Redis["sendCommand"];
      try {
        const none: RateLimits = { requestsPerMinute: null, tokensPerMinute: null };
        expect(await limiter.check("free", none, { requests: 1, tokens: 10_000 })).to.deep.equal({ allowed: true, headers: {} });
        await limiter.adjustTokens("free", none, 500);
        await limiter.adjustTokens("free", rpm(5), 500);
        await limiter.adjustTokens("free", { requestsPerMinute: null, tokensPerMinute: 10 }, 0);
        expect(calls).to.equal(0);
        await limiter.check("free", rpm(5), one);
        expect(calls, "one round trip per limited check").to.equal(1);
      } finally {
        redis.sendCommand = original;
      }
    });
  });

  describe("when Redis is down", () => {
    let deadRedis: Redis;
    before(async () => {
      const { default: IORedis } = await import("ioredis");
      deadRedis = new IORedis("redis://127.0.0.1:1", { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
      deadRedis.on("error", () => {});
    });
    after(() => deadRedis?.disconnect());

    it("fails open by default: admits without headers and logs one throttled warning", async () => {
      const logger = recordingLogger();
      const limiter = new RedisRateLimiter(deadRedis, { keyPrefix: prefix, logger });
      for (let i = 0; i < 20; i++) {
        expect(await limiter.check("down", rpm(1), one)).to.deep.equal({ allowed: true, headers: {} });
      }
      await limiter.adjustTokens("down", { requestsPerMinute: null, tokensPerMinute: 10 }, -5);
      expect(logger.lines).to.have.length(1);
      expect(logger.lines[0].message).to.match(/Redis unavailable/);
      expect(logger.lines[0].fields).to.include({ keyId: "down" });
    });

    it("fails closed when asked: throws RateLimiterUnavailableError (503)", async () => {
      const limiter = new RedisRateLimiter(deadRedis, { keyPrefix: prefix, failMode: "closed", logger: recordingLogger() });
      try {
        await limiter.check("down", rpm(1), one);
        expect.fail("expected RateLimiterUnavailableError");
      } catch (error) {
        expect(error).to.be.instanceOf(RateLimiterUnavailableError);
        expect((error as RateLimiterUnavailableError).status).to.equal(503);
      }
      await limiter.adjustTokens("down", { requestsPerMinute: null, tokensPerMinute: 10 }, -5);
    });

    it("still validates its input", async () => {
      const limiter = new RedisRateLimiter(deadRedis, { keyPrefix: prefix, logger: recordingLogger() });
      try {
        await limiter.check("down", rpm(0), one);
        expect.fail("expected a RangeError");
      } catch (error) {
        expect(error).to.be.instanceOf(RangeError);
      }
    });
  });

  describe("createRateLimiter", () => {
    it("is in memory without a Redis URL", async () => {
      const handle = await createRateLimiter({});
      expect(handle.backend).to.equal("memory");
      expect(handle.limiter).to.be.instanceOf(MemoryRateLimiter);
      await handle.close();
    });

    it("shares counters through Redis with a URL", async () => {
      const a = await createRateLimiter({ redisUrl, keyPrefix: prefix });
      const b = await createRateLimiter({ redisUrl, keyPrefix: prefix });
      expect(a.backend).to.equal("redis");
      expect((await a.limiter.check("factory", rpm(1), one)).allowed).to.equal(true);
      expect((await b.limiter.check("factory", rpm(1), one)).allowed).to.equal(false);
      await Promise.all([a.close(), b.close()]);
    });

    it("starts with Redis unreachable, logs it, and fails open", async () => {
      const logger = recordingLogger();
      const handle = await createRateLimiter({ redisUrl: "redis://127.0.0.1:1", keyPrefix: prefix, logger });
      expect(logger.lines.map((l) => l.message)).to.include(
        "rate limiter: Redis unreachable at start; retrying in the background",
      );
      const started = Date.now();
      expect((await handle.limiter.check("down", rpm(1), one)).allowed).to.equal(true);
      expect(Date.now() - started, "no waiting on a queue").to.be.below(100);
      await handle.close();
    });
  });
});
