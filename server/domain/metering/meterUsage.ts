import type { TokenUsage } from "../types";
import type { TokenBudget } from "../chat/tokenBudget";
import type { ReportedUsage } from "./reportedUsage";

/** What a request is billed for, and how that was decided. */
export interface MeteredUsage {
  billed: TokenUsage;
  cachedPromptTokens: number;
  reasoningTokens: number;
  /** True when the tokens were counted by our tokenizer, not reported by the upstream. */
  estimated: boolean;
  /** True when the upstream reported more than the hold covers and the excess was not billed. */
  capped: boolean;
}

/**
 * The upstream's usage when it gave one, else our count (the prompt as
 * counted, the completion from the text received). Either way the bill never
 * exceeds the request's budget: the hold covers exactly that, so no upstream
 * that ignores `max_tokens` or over-reports can make a user spend more than
 * they had reserved; the excess is the provider's to explain, not the user's.
 */
export function meterUsage(
  reported: ReportedUsage | null,
  budget: TokenBudget,
  countCompletionTokens: () => number
): MeteredUsage {
  if (!reported) {
    const completion = Math.min(countCompletionTokens(), budget.maxCompletionTokens);
    return {
      billed: { promptTokens: budget.promptTokens, completionTokens: completion },
      cachedPromptTokens: 0,
      reasoningTokens: 0,
      estimated: true,
      capped: false,
    };
  }
  const promptTokens = Math.min(reported.promptTokens, budget.maxPromptTokens);
  const completionTokens = Math.min(reported.completionTokens, budget.maxCompletionTokens);
  return {
    billed: { promptTokens, completionTokens },
    cachedPromptTokens: Math.min(reported.cachedPromptTokens, promptTokens),
    reasoningTokens: Math.min(reported.reasoningTokens, completionTokens),
    estimated: false,
    capped: promptTokens < reported.promptTokens || completionTokens < reported.completionTokens,
  };
}

/** OpenAI's `usage` object for a response whose upstream reported none: our estimate, in the same shape. */
export function estimatedUsageObject(metered: MeteredUsage): Record<string, number> {
  const { promptTokens, completionTokens } = metered.billed;
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}
