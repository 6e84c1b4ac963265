import { countPromptTokens, promptTokenBound } from "../tokens/countPromptTokens";
import type { Model } from "../types";
import { costMicros } from "../types";
import type { ChatCompletionRequest } from "./chatCompletionRequest";

/**
 * The most a request may use, in tokens: what its hold pays for, what the
 * rate limiter charges up front, and the ceiling of what it can be billed.
 */
export interface TokenBudget {
  /**
   * The prompt as our tokenizer counts it: the estimate billed when an
   * upstream reports nothing, and what a tokens-per-minute limit is charged.
   * A byte-bound budget counts it on first read.
   */
  readonly promptTokens: number;
  /** The prompt tokens the hold covers: the most prompt tokens the request can be billed. */
  maxPromptTokens: number;
  /** Completion tokens across all `n` choices, capped at the model's maximum output per choice. */
  maxCompletionTokens: number;
  /** How `maxPromptTokens` was sized: our tokenizer's count with headroom, or the prompt's byte length. */
  promptSizing: "tokenizer" | "byte_bound";
}

/**
 * Chat templates add their own framing around the messages (role headers,
 * BOS tokens, a system preamble): 32 tokens covers the longest common one.
 */
const TEMPLATE_HEADROOM_TOKENS = 32;

/**
 * Sized by our tokenizer. It is not the model's, so the count gets headroom:
 * 25% covers the 32k-vocabulary tokenizers, which count ~20% more than cl100k.
 */
export function tokenBudget(request: ChatCompletionRequest, model: Model, promptTokens: number): TokenBudget {
  return {
    promptTokens,
    maxPromptTokens: promptTokens + Math.ceil(promptTokens / 4) + TEMPLATE_HEADROOM_TOKENS,
    maxCompletionTokens: maxCompletionTokens(request, model),
    promptSizing: "tokenizer",
  };
}

/**
 * Sized with no tokenizer: the prompt's UTF-8 length bounds its tokens under
 * any tokenizer (`promptTokenBound`). A larger hold than `tokenBudget`'s,
 * several times larger for English prose, for a fraction of the CPU; the
 * tokenizer runs only if `promptTokens` is read.
 */
export function byteBoundTokenBudget(request: ChatCompletionRequest, model: Model): TokenBudget {
  let counted: number | undefined;
  return {
    get promptTokens() {
      counted ??= countPromptTokens(request);
      return counted;
    },
    maxPromptTokens: promptTokenBound(request) + TEMPLATE_HEADROOM_TOKENS,
    maxCompletionTokens: maxCompletionTokens(request, model),
    promptSizing: "byte_bound",
  };
}

function maxCompletionTokens(request: ChatCompletionRequest, model: Model): number {
  const asked = request.max_completion_tokens ?? request.max_tokens ?? model.maxOutputTokens;
  return Math.min(asked, model.maxOutputTokens) * (request.n ?? 1);
}

/** The worst-case cost of a request: what its hold reserves, in micro base units. */
export function holdAmountMicros(budget: TokenBudget, model: Model): bigint {
  return costMicros({ promptTokens: budget.maxPromptTokens, completionTokens: budget.maxCompletionTokens }, model);
}
