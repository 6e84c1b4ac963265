import type { SpendableHints } from "../ledger/spendableHints";
import type { MeteredUsage } from "../metering/meterUsage";
import type { Ledger, ModelCatalog, RateLimiter, UpstreamDirectory } from "../ports";
import type { ChatUpstreamRouter } from "./chatUpstream";

/** What the chat completion use case observes, for metrics; no-ops are fine. */
export interface ChatCompletionObserver {
  holdOpened(): void;
  holdClosed(): void;
  usageRecorded(modelId: string, metered: MeteredUsage): void;
}

/** pino's shape, reduced to what the use case logs. */
export interface UseCaseLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface ChatCompletionDeps {
  models: ModelCatalog;
  upstreams: UpstreamDirectory;
  ledger: Ledger;
  rateLimiter: RateLimiter;
  router: ChatUpstreamRouter;
  holdTtlMs: number;
  /** What accounts could spend, as last reported by the ledger: how holds are sized (see admitChatCompletion). */
  spendableHints: SpendableHints;
  observer: ChatCompletionObserver;
  logger: UseCaseLogger;
  now: () => number;
}
