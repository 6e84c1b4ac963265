import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ChatCompletionObserver } from "../../domain/chat/chatCompletionDeps";
import type { MeteredUsage } from "../../domain/metering/meterUsage";
import type { UpstreamTarget } from "../../domain/ports";
import type { AttemptFailure } from "../../providers/openai-compatible/attemptFailure";
import type { UpstreamFailureListener } from "../../providers/routing/failoverOutcome";

/**
 * The gateway's Prometheus metrics, in a registry of its own (several gateways
 * in one test process must not collide). Label values are bounded: routes are
 * the router's patterns, models and upstreams come from the catalog.
 */
export class GatewayMetrics implements ChatCompletionObserver, UpstreamFailureListener {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: "shareai_http_requests_total",
    help: "HTTP requests by route, method and status.",
    labelNames: ["route", "method", "status"] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: "shareai_http_request_duration_seconds",
    help: "Time from request to the end of the response (streams: their whole length).",
    labelNames: ["route", "method"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  private readonly tokens = new Counter({
    name: "shareai_tokens_total",
    help: "Tokens billed, by model and kind (prompt, completion; cached and reasoning are parts of them).",
    labelNames: ["model", "kind"] as const,
    registers: [this.registry],
  });
  private readonly estimatedRequests = new Counter({
    name: "shareai_usage_estimated_total",
    help: "Requests billed from our tokenizer count because the upstream reported no usage.",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });
  private readonly holds = new Gauge({
    name: "shareai_active_holds",
    help: "Balance holds of requests in flight on this instance.",
    registers: [this.registry],
  });
  private readonly upstreamErrors = new Counter({
    name: "shareai_upstream_errors_total",
    help: "Failed upstream attempts, by provider, upstream and kind (connect, timeout, status, connection, protocol).",
    labelNames: ["provider", "upstream", "kind"] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "shareai_" });
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.requests.inc({ route, method, status: String(status) });
    this.latency.observe({ route, method }, seconds);
  }

  holdOpened(): void {
    this.holds.inc();
  }

  holdClosed(): void {
    this.holds.dec();
  }

  usageRecorded(modelId: string, metered: MeteredUsage): void {
    this.tokens.inc({ model: modelId, kind: "prompt" }, metered.billed.promptTokens);
    this.tokens.inc({ model: modelId, kind: "completion" }, metered.billed.completionTokens);
    if (metered.cachedPromptTokens) this.tokens.inc({ model: modelId, kind: "cached" }, metered.cachedPromptTokens);
    if (metered.reasoningTokens) this.tokens.inc({ model: modelId, kind: "reasoning" }, metered.reasoningTokens);
    if (metered.estimated) this.estimatedRequests.inc({ model: modelId });
  }

  upstreamFailed(target: UpstreamTarget, failure: AttemptFailure): void {
    this.upstreamErrors.inc({ provider: target.providerId, upstream: target.id, kind: failure.kind });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
