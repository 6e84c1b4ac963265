import type { UsageEntry } from "../../persistence/usage";
import { amountFromMicros, type AmountView } from "../http/amount";

/** One request as the usage history shows it. */
export interface UsageView {
  request_id: string;
  created_at: string;
  key: { id: string; name: string | null; prefix: string | null };
  model: string;
  provider_address: string;
  prompt_tokens: number;
  completion_tokens: number;
  cached_prompt_tokens: number;
  reasoning_tokens: number;
  /** Exact: a request usually costs a fraction of a base unit. */
  cost: AmountView;
  /** True when the tokens were counted by the gateway because the provider reported none. */
  estimated: boolean;
  outcome: string;
  stream: boolean;
  latency_ms: number;
}

export function usageView(entry: UsageEntry): UsageView {
  return {
    request_id: entry.requestId,
    // Postgres' exact instant (microseconds), not a Date's milliseconds.
    created_at: entry.position.createdAt,
    key: { id: entry.keyId, name: entry.keyName, prefix: entry.keyPrefix },
    model: entry.modelId,
    provider_address: entry.providerAddress,
    prompt_tokens: entry.promptTokens,
    completion_tokens: entry.completionTokens,
    cached_prompt_tokens: entry.cachedPromptTokens,
    reasoning_tokens: entry.reasoningTokens,
    cost: amountFromMicros(entry.costMicros),
    estimated: entry.estimated,
    outcome: entry.outcome,
    stream: entry.stream,
    latency_ms: entry.latencyMs,
  };
}
