import type { Model } from "../types";
import { costMicros } from "../types";
import type { ChatCompletionRequest } from "./chatCompletionRequest";

/**
 * The most a request may use, in tokens: what its hold pays for, what the
 * rate limiter charges up front, and the ceiling of what it can be billed.
 */
export interface TokenBudget {
  /** The prompt as our tokenizer counts it: the estimate when an upstream reports nothing. */
  promptTokens: number;
  /**
   * The prompt tokens the hold covers. Our tokenizer is not the model's, and
   * chat templates add their own framing, so the count gets headroom: 25% plus
   * 32 tokens covers the 32k-vocabulary tokenizers (which count ~20% more than
   * cl100k) and the longest common template preamble.
   */
  maxPromptTokens: number;
  /** Completion tokens across all `n` choices, capped at the model's maximum output per choice. */
  maxCompletionTokens: number;
}

export function tokenBudget(request: ChatCompletionRequest, model: Model, promptTokens: number): TokenBudget {
  const asked = request.max_completion_tokens ?? request.max_tokens ?? model.maxOutputTokens;
  const perChoice = Math.min(asked, model.maxOutputTokens);
  return {
    promptTokens,
    maxPromptTokens: promptTokens + Math.ceil(promptTokens / 4) + 32,
    maxCompletionTokens: perChoice * (request.n ?? 1),
  };
}

/** The worst-case cost of a request: what its hold reserves, in micro base units. */
export function holdAmountMicros(budget: TokenBudget, model: Model): bigint {
  return costMicros({ promptTokens: budget.maxPromptTokens, completionTokens: budget.maxCompletionTokens }, model);
}
