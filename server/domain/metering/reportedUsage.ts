/** The token usage an upstream reported, read defensively (upstreams are outside our trust boundary). */
export interface ReportedUsage {
  promptTokens: number;
  completionTokens: number;
  /** Part of promptTokens that the upstream served from its prompt cache. */
  cachedPromptTokens: number;
  /** Part of completionTokens spent on hidden reasoning. */
  reasoningTokens: number;
}

/**
 * OpenAI's `usage` object as numbers, or null when it is absent or not
 * believable (missing counts, negatives, fractions): the caller then counts
 * with the tokenizer instead. The details are informational: they are already
 * inside the two totals, so they are clamped to them and never billed on top.
 */
export function readReportedUsage(usage: unknown): ReportedUsage | null {
  if (typeof usage !== "object" || usage === null) return null;
  const u = usage as {
    prompt_tokens?: unknown;
    completion_tokens?: unknown;
    prompt_tokens_details?: { cached_tokens?: unknown } | null;
    completion_tokens_details?: { reasoning_tokens?: unknown } | null;
  };
  if (!isCount(u.prompt_tokens) || !isCount(u.completion_tokens)) return null;
  const cached = u.prompt_tokens_details?.cached_tokens;
  const reasoning = u.completion_tokens_details?.reasoning_tokens;
  return {
    promptTokens: u.prompt_tokens,
    completionTokens: u.completion_tokens,
    cachedPromptTokens: isCount(cached) ? Math.min(cached, u.prompt_tokens) : 0,
    reasoningTokens: isCount(reasoning) ? Math.min(reasoning, u.completion_tokens) : 0,
  };
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
