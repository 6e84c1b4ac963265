import type { Middleware } from "koa";
import { rateLimited, rateLimiterUnavailable } from "../../domain/errors/gatewayErrors";
import type { RateLimiter } from "../../domain/ports";

/**
 * Limits the sign-in endpoints per client address: every nonce is a row in
 * Postgres until it expires, and every verification recovers a signature, so
 * an anonymous client must not be able to make either at will. The same
 * limiter as API keys' (GCRA; shared in Redis with REDIS_URL), keyed by the
 * client's address: `ctx.ip`, the connection's peer, or with TRUST_PROXY the
 * address the proxy appended to X-Forwarded-For.
 */
export function signInRateLimit(limiter: RateLimiter, attemptsPerMinute: number): Middleware {
  const limits = { requestsPerMinute: attemptsPerMinute, tokensPerMinute: null };
  return async (ctx, next) => {
    let decision;
    try {
      decision = await limiter.check(`sign-in:${ctx.ip}`, limits, { requests: 1, tokens: 0 });
    } catch {
      // The limiter throws only when its store is down and it is configured to fail closed.
      throw rateLimiterUnavailable();
    }
    if (!decision.allowed) throw rateLimited(decision);
    ctx.set(decision.headers);
    await next();
  };
}
