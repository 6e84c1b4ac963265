import { expect } from "chai";
import { MemoryRateLimiter } from "../../../server/domain/rateLimit";
import { FakeClock } from "./helpers/fakeClock";
import { shouldBehaveLikeARateLimiter } from "./rateLimiter.behavior";

describe("MemoryRateLimiter", () => {
  describe("behaves like a rate limiter", () => {
    shouldBehaveLikeARateLimiter((clock) => new MemoryRateLimiter({ clock }));
  });

  describe("memory", () => {
    it("sweeps out keys that have drained, and keeps the ones still counting", async () => {
      const clock = new FakeClock();
      const limiter = new MemoryRateLimiter({ clock: clock.now, sweepIntervalMs: 60_000 });
      for (let i = 0; i < 10_000; i++) {
        await limiter.check(`idle-${i}`, { requestsPerMinute: 60, tokensPerMinute: 6000 }, { requests: 1, tokens: 100 });
      }
      expect(limiter.size).to.equal(10_000);

      clock.advance(50_000);
      // 1 request/min drains in 60 s: still counting at the sweep.
      await limiter.check("busy", { requestsPerMinute: 1, tokensPerMinute: null }, { requests: 1, tokens: 0 });
      clock.advance(20_000);
      await limiter.check("other", { requestsPerMinute: 10, tokensPerMinute: null }, { requests: 1, tokens: 0 });
      expect(limiter.size).to.equal(2);
      expect((await limiter.check("busy", { requestsPerMinute: 1, tokensPerMinute: null }, { requests: 1, tokens: 0 })).allowed).to.equal(false);
    });

    it("does not sweep more than once per interval", async () => {
      const clock = new FakeClock();
      const limiter = new MemoryRateLimiter({ clock: clock.now, sweepIntervalMs: 60_000 });
      await limiter.check("a", { requestsPerMinute: 60, tokensPerMinute: null }, { requests: 1, tokens: 0 });
      clock.advance(60_000);
      await limiter.check("b", { requestsPerMinute: 60, tokensPerMinute: null }, { requests: 1, tokens: 0 });
      expect(limiter.size).to.equal(1);
      clock.advance(30_000);
      await limiter.check("c", { requestsPerMinute: 60, tokensPerMinute: null }, { requests: 1, tokens: 0 });
      expect(limiter.size, "b expired but the next sweep is not due").to.equal(2);
    });

    it("uses the real clock by default", async () => {
      const limiter = new MemoryRateLimiter();
      const decision = await limiter.check("k", { requestsPerMinute: 2, tokensPerMinute: null }, { requests: 1, tokens: 0 });
      expect(decision.headers["x-ratelimit-reset-requests"]).to.equal("30s");
    });
  });
});
