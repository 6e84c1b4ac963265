import type { RateLimits } from "../ports";
import type { ApiKey } from "../types";
import type { ChatCompletionDeps } from "./chatCompletionDeps";
import type { TokenBudget } from "./tokenBudget";

/** A key's limits in the limiter's terms; null when it has none (the limiter is then never called). */
export function rateLimitsOf(key: ApiKey): RateLimits | null {
  if (key.requestsPerMinute === null && key.tokensPerMinute === null) return null;
  return { requestsPerMinute: key.requestsPerMinute, tokensPerMinute: key.tokensPerMinute };
}

/** What the limiter is charged when a request is admitted: its worst case, like OpenAI's TPM accounting. */
export function chargedTokens(budget: TokenBudget): number {
  return budget.promptTokens + budget.maxCompletionTokens;
}

/**
 * Replaces the up-front worst case with what the request really used (0 when
 * it never ran). Off the response path: a lost correction only makes the next
 * minute slightly stricter or looser.
 */
export function correctTokenCharge(
  deps: ChatCompletionDeps,
  key: ApiKey,
  budget: TokenBudget,
  usedTokens: number
): void {
  if (key.tokensPerMinute === null) return;
  const delta = usedTokens - chargedTokens(budget);
  if (delta === 0) return;
  deps.rateLimiter.adjustTokens(key.id, rateLimitsOf(key)!, delta).catch((error: unknown) => {
    deps.logger.warn({ err: error, keyId: key.id }, "rate limit token correction failed");
  });
}
