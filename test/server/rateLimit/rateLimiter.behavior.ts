import { randomUUID } from "node:crypto";
import { expect } from "chai";
import type { RateLimitCost, RateLimitDecision, RateLimiter, RateLimits } from "../../../server/domain/ports";
import { FakeClock } from "./helpers/fakeClock";

type Refusal = Extract<RateLimitDecision, { allowed: false }>;

const requests = (requestsPerMinute: number): RateLimits => ({ requestsPerMinute, tokensPerMinute: null });
const tokens = (tokensPerMinute: number): RateLimits => ({ requestsPerMinute: null, tokensPerMinute });
const cost = (tokenCount = 0): RateLimitCost => ({ requests: 1, tokens: tokenCount });

function refusal(decision: RateLimitDecision): Refusal {
  expect(decision.allowed, "expected a refusal").to.equal(false);
  return decision as Refusal;
}

/**
 * What every RateLimiter must do, run against each implementation with a fake
 * clock. `makeLimiter` builds a limiter reading that clock.
 */
export function shouldBehaveLikeARateLimiter(makeLimiter: (clock: () => number) => RateLimiter): void {
  let clock: FakeClock;
  let limiter: RateLimiter;
  let key: string;

  beforeEach(() => {
    clock = new FakeClock();
    limiter = makeLimiter(clock.now);
    key = `key-${randomUUID()}`;
  });

  const admitted = async (limits: RateLimits, c = cost(), keyId = key): Promise<boolean> =>
    (await limiter.check(keyId, limits, c)).allowed;

  describe("at the boundary", () => {
    it("admits exactly the limit at once, then refuses", async () => {
      for (let i = 4; i >= 0; i--) {
        const decision = await limiter.check(key, requests(5), cost());
        expect(decision.allowed).to.equal(true);
        expect(decision.headers["x-ratelimit-remaining-requests"]).to.equal(String(i));
      }
      const refused = refusal(await limiter.check(key, requests(5), cost()));
      expect(refused.limit).to.equal("requests");
      expect(refused.limitPerMinute).to.equal(5);
      expect(refused.retryable).to.equal(true);
    });

    it("admits a token cost equal to what is left, and not one token more", async () => {
      expect(await admitted(tokens(1000), cost(999))).to.equal(true);
      expect(await admitted(tokens(1000), cost(2))).to.equal(false);
      expect(await admitted(tokens(1000), cost(1))).to.equal(true);
      expect(await admitted(tokens(1000), cost(1))).to.equal(false);
    });

    it("refills continuously: one more request every 60s / limit", async () => {
      for (let i = 0; i < 60; i++) expect(await admitted(requests(60))).to.equal(true);
      clock.advance(999);
      expect(await admitted(requests(60))).to.equal(false);
      clock.advance(1);
      expect(await admitted(requests(60))).to.equal(true);
      expect(await admitted(requests(60))).to.equal(false);
    });

    it("does not drift over many windows when 60s / limit is not a whole number of ms", async () => {
      const start = clock.nowMs;
      for (let i = 0; i < 7; i++) expect(await admitted(requests(7))).to.equal(true);
      // The k-th request after the burst fits exactly at ceil(k × 60000 / 7) ms, for 100 minutes.
      for (let k = 1; k <= 700; k++) {
        clock.nowMs = start + Math.ceil((k * 60_000) / 7) - 1;
        expect(await admitted(requests(7)), `early at k=${k}`).to.equal(false);
        clock.advance(1);
        expect(await admitted(requests(7)), `on time at k=${k}`).to.equal(true);
        expect(await admitted(requests(7)), `second at k=${k}`).to.equal(false);
      }
    });
  });

  describe("refusals", () => {
    it("consume nothing, however many there are", async () => {
      for (let i = 0; i < 3; i++) await limiter.check(key, requests(3), cost());
      const first = refusal(await limiter.check(key, requests(3), cost()));
      for (let i = 0; i < 100; i++) {
        const again = refusal(await limiter.check(key, requests(3), cost()));
        expect(again.retryAfterMs).to.equal(first.retryAfterMs);
        expect(again.headers).to.deep.equal(first.headers);
      }
      clock.advance(first.retryAfterMs);
      expect(await admitted(requests(3))).to.equal(true);
    });

    it("by tokens charge no request, and by requests charge no token", async () => {
      const limits: RateLimits = { requestsPerMinute: 10, tokensPerMinute: 100 };
      expect(await admitted(limits, cost(80))).to.equal(true);
      const byTokens = refusal(await limiter.check(key, limits, cost(30)));
      expect(byTokens.limit).to.equal("tokens");
      expect(byTokens.headers["x-ratelimit-remaining-requests"]).to.equal("9");
      expect(byTokens.headers["x-ratelimit-remaining-tokens"]).to.equal("20");

      const decision = await limiter.check(key, limits, cost(20));
      expect(decision.allowed).to.equal(true);
      expect(decision.headers["x-ratelimit-remaining-requests"]).to.equal("8");

      const other = `${key}-b`;
      const limitsB: RateLimits = { requestsPerMinute: 1, tokensPerMinute: 100 };
      expect(await admitted(limitsB, cost(10), other)).to.equal(true);
      const byRequests = refusal(await limiter.check(other, limitsB, cost(10)));
      expect(byRequests.limit).to.equal("requests");
      expect(byRequests.headers["x-ratelimit-remaining-tokens"]).to.equal("90");
    });

    it("give a retry-after after which the request fits, and not a millisecond before", async () => {
      for (let i = 0; i < 7; i++) await limiter.check(key, requests(7), cost());
      const refused = refusal(await limiter.check(key, requests(7), cost()));
      expect(refused.retryAfterMs).to.equal(Math.ceil(60_000 / 7)); // 8572
      expect(refused.retryAfterSeconds).to.equal(9);
      expect(refused.headers["retry-after"]).to.equal("9");
      expect(refused.headers["retry-after-ms"]).to.equal("8572");
      clock.advance(refused.retryAfterMs - 1);
      expect(await admitted(requests(7))).to.equal(false);
      clock.advance(1);
      expect(await admitted(requests(7))).to.equal(true);
    });

    it("name the limit that needs the longest wait, and wait for every limit", async () => {
      // Both full; requests need 60 s, 30 tokens need 30 s.
      const tight: RateLimits = { requestsPerMinute: 1, tokensPerMinute: 60 };
      expect(await admitted(tight, cost(60))).to.equal(true);
      const both = refusal(await limiter.check(key, tight, cost(30)));
      expect(both.limit).to.equal("requests");
      expect(both.retryAfterMs).to.equal(60_000);

      // Requests have room; 60 tokens need 60 s.
      const other = `${key}-b`;
      const loose: RateLimits = { requestsPerMinute: 2, tokensPerMinute: 60 };
      expect(await admitted(loose, cost(60), other)).to.equal(true);
      const byTokens = refusal(await limiter.check(other, loose, cost(60)));
      expect(byTokens.limit).to.equal("tokens");
      expect(byTokens.retryAfterMs).to.equal(60_000);
    });

    it("of a request larger than the whole limit are not retryable, and charge nothing", async () => {
      const refused = refusal(await limiter.check(key, tokens(100), cost(101)));
      expect(refused).to.include({ limit: "tokens", limitPerMinute: 100, requested: 101, retryable: false });
      expect(refused.retryAfterSeconds).to.be.at.least(1);
      expect(await admitted(tokens(100), cost(100))).to.equal(true);
    });
  });

  describe("token estimates", () => {
    it("a refund (negative adjustment) frees what the request did not use", async () => {
      expect(await admitted(tokens(1000), cost(800))).to.equal(true);
      expect(await admitted(tokens(1000), cost(300))).to.equal(false);
      await limiter.adjustTokens(key, tokens(1000), 200 - 800);
      const decision = await limiter.check(key, tokens(1000), cost(300));
      expect(decision.allowed).to.equal(true);
      expect(decision.headers["x-ratelimit-remaining-tokens"]).to.equal("500");
    });

    it("a positive adjustment charges the tokens the estimate missed, beyond the limit if need be", async () => {
      expect(await admitted(tokens(1000), cost(500))).to.equal(true);
      await limiter.adjustTokens(key, tokens(1000), 1500);
      const refused = refusal(await limiter.check(key, tokens(1000), cost(1)));
      // 2000 tokens used of 1000/min: 1001 must drain first, at 1000 per 60 s.
      expect(refused.retryAfterMs).to.equal(60_060);
      expect(refused.headers["x-ratelimit-remaining-tokens"]).to.equal("0");
      expect(refused.headers["x-ratelimit-reset-tokens"]).to.equal("2m0s");
      clock.advance(60_060);
      expect(await admitted(tokens(1000), cost(1))).to.equal(true);
    });

    it("a refund never goes below nothing used", async () => {
      expect(await admitted(tokens(100), cost(10))).to.equal(true);
      await limiter.adjustTokens(key, tokens(100), -1000);
      expect(await admitted(tokens(100), cost(100))).to.equal(true);
      expect(await admitted(tokens(100), cost(1))).to.equal(false);
    });

    it("a refund drains with time like the charge it corrects", async () => {
      expect(await admitted(tokens(600), cost(600))).to.equal(true);
      clock.advance(30_000); // 300 drained
      await limiter.adjustTokens(key, tokens(600), -100); // 600 - 300 - 100 = 200 used
      const decision = await limiter.check(key, tokens(600), cost(400));
      expect(decision.allowed).to.equal(true);
      expect(decision.headers["x-ratelimit-remaining-tokens"]).to.equal("0");
      expect(await admitted(tokens(600), cost(1))).to.equal(false);
    });

    it("an adjustment for a key without a token limit changes nothing", async () => {
      await limiter.adjustTokens(key, requests(1), 1_000_000);
      expect(await admitted({ requestsPerMinute: 1, tokensPerMinute: 10 }, cost(10))).to.equal(true);
    });

    it("a refund for a key with nothing used does nothing, and a charge starts a debt", async () => {
      await limiter.adjustTokens(key, tokens(100), -50);
      expect(await admitted(tokens(100), cost(100))).to.equal(true);
      const fresh = `${key}-b`;
      await limiter.adjustTokens(fresh, tokens(100), 100);
      expect(await admitted(tokens(100), cost(1), fresh)).to.equal(false);
    });
  });

  describe("limits", () => {
    it("null limits are unlimited and send no headers", async () => {
      const none: RateLimits = { requestsPerMinute: null, tokensPerMinute: null };
      for (let i = 0; i < 1000; i++) {
        expect(await limiter.check(key, none, cost(1_000_000))).to.deep.equal({ allowed: true, headers: {} });
      }
      await limiter.adjustTokens(key, none, 5);
    });

    it("one null limit: only the other's headers, and only it counts", async () => {
      const decision = await limiter.check(key, tokens(100), cost(10));
      expect(Object.keys(decision.headers).sort()).to.deep.equal([
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
      ]);
      for (let i = 0; i < 50; i++) expect(await admitted(tokens(100), cost(0))).to.equal(true);
    });

    it("takes an API key record as its limits, reading only the two limits", async () => {
      const apiKey = { id: key, name: "ci", allowedModels: null, requestsPerMinute: 1, tokensPerMinute: null };
      expect(await admitted(apiKey)).to.equal(true);
      expect(await admitted(apiKey)).to.equal(false);
    });

    it("keys do not share counters", async () => {
      expect(await admitted(requests(1), cost(), "a-" + key)).to.equal(true);
      expect(await admitted(requests(1), cost(), "b-" + key)).to.equal(true);
      expect(await admitted(requests(1), cost(), "a-" + key)).to.equal(false);
    });

    it("a lowered limit applies to what the key has already used", async () => {
      for (let i = 0; i < 10; i++) expect(await admitted(requests(10))).to.equal(true);
      const refused = refusal(await limiter.check(key, requests(5), cost()));
      // 10 used, 5 allowed: 6 must drain at 5 per minute.
      expect(refused.retryAfterMs).to.equal(72_000);
      clock.advance(72_000);
      expect(await admitted(requests(5))).to.equal(true);
    });

    it("a clock that goes back grants nothing", async () => {
      expect(await admitted(requests(1))).to.equal(true);
      clock.advance(-3_600_000);
      expect(await admitted(requests(1))).to.equal(false);
    });

    it("forgets a key once it has drained", async () => {
      expect(await admitted(requests(2))).to.equal(true);
      clock.advance(3_600_000);
      const decision = await limiter.check(key, requests(2), cost());
      expect(decision.headers["x-ratelimit-remaining-requests"]).to.equal("1");
    });

    it("rejects limits and costs that are not counts", async () => {
      for (const bad of [0, -1, 1.5, Number.NaN, 2_000_000_000]) {
        await expectRangeError(limiter.check(key, requests(bad), cost()));
      }
      await expectRangeError(limiter.check(key, requests(1), { requests: -1, tokens: 0 }));
      await expectRangeError(limiter.check(key, tokens(1), { requests: 1, tokens: 0.5 }));
      await expectRangeError(limiter.adjustTokens(key, tokens(1), 0.5));
    });

    it("refuses an absurd cost as too large instead of failing", async () => {
      const refused = refusal(await limiter.check(key, tokens(1_000_000_000), cost(Number.MAX_SAFE_INTEGER)));
      expect(refused.retryable).to.equal(false);
    });
  });

  describe("headers", () => {
    it("carry OpenAI's limit, remaining and reset for each limit", async () => {
      const limits: RateLimits = { requestsPerMinute: 60, tokensPerMinute: 1000 };
      expect((await limiter.check(key, limits, cost(100))).headers).to.deep.equal({
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "900",
        "x-ratelimit-reset-tokens": "6s",
      });
      clock.advance(500);
      expect((await limiter.check(key, limits, cost(0))).headers).to.deep.equal({
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "58",
        "x-ratelimit-reset-requests": "1.5s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "908",
        "x-ratelimit-reset-tokens": "5.5s",
      });
    });
  });

  describe("concurrency", () => {
    it("200 concurrent checks against a limit of 50 admit exactly 50", async () => {
      const decisions = await Promise.all(
        Array.from({ length: 200 }, () => limiter.check(key, requests(50), cost())),
      );
      expect(decisions.filter((d) => d.allowed)).to.have.length(50);
      const remaining = decisions.filter((d) => d.allowed).map((d) => Number(d.headers["x-ratelimit-remaining-requests"]));
      expect(new Set(remaining).size, "every admitted request saw its own slot").to.equal(50);
    });

    it("200 concurrent token checks against 50 requests' worth admit exactly 50", async () => {
      const decisions = await Promise.all(
        Array.from({ length: 200 }, () => limiter.check(key, tokens(5000), cost(100))),
      );
      expect(decisions.filter((d) => d.allowed)).to.have.length(50);
    });
  });
}

async function expectRangeError(promise: Promise<unknown>): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(RangeError);
    return;
  }
  expect.fail("expected a RangeError");
}
