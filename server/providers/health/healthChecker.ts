import type { ModelCatalog, UpstreamDirectory, UpstreamTarget } from "../../domain/ports";
import { endpointOf } from "../openai-compatible/upstreamEndpoint";
import type { UpstreamPools } from "../openai-compatible/upstreamPools";
import type { UpstreamHealth, UpstreamStates } from "../routing/upstreamStates";
import type { UpstreamHealthLog, UpstreamHealthRecord } from "./upstreamHealthLog";

export interface HealthCheckerDeps {
  models: ModelCatalog;
  directory: UpstreamDirectory;
  states: UpstreamStates;
  pools: UpstreamPools;
  intervalMs: number;
  timeoutMs: number;
  logger: { info(fields: object, message: string): void; warn(fields: object, message: string): void };
  onHealthChange?: (target: UpstreamTarget, health: UpstreamHealth) => void;
  /** Where each result is written for the Provider page (one write per check); none: kept in memory only. */
  healthLog?: UpstreamHealthLog;
}

/**
 * Probes every configured upstream with `GET {baseUrl}/models` (cheap, served
 * by vLLM, Ollama, llama.cpp and hosted APIs alike, and it checks our key) on
 * an interval, and marks it up or down. Down upstreams are skipped by the
 * router until a probe succeeds again. Probes of one round run concurrently;
 * a round never overlaps the next.
 */
export class HealthChecker {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly deps: HealthCheckerDeps) {}

  start(): void {
    this.stopped = false;
    const tick = () => {
      this.round = this.checkAll().finally(() => {
        this.round = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.deps.intervalMs).unref();
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
  }

  /** One round over every upstream of every model; errors are logged, never thrown. */
  async checkAll(): Promise<void> {
    let targets: UpstreamTarget[];
    try {
      targets = await this.allUpstreams();
    } catch (error) {
      this.deps.logger.warn({ err: error }, "health check: cannot list upstreams");
      return;
    }
    this.deps.states.retainOnly(new Set(targets.map((t) => t.id)));
    await Promise.all(targets.map((target) => this.checkOne(target)));
  }

  async checkOne(target: UpstreamTarget): Promise<UpstreamHealth> {
    const result = await this.probe(target);
    const health: UpstreamHealth = result.up ? "up" : "down";
    const state = this.deps.states.get(target.id);
    if (state.health !== health) {
      const log = health === "up" ? this.deps.logger.info : this.deps.logger.warn;
      log.call(
        this.deps.logger,
        { upstreamId: target.id, providerId: target.providerId, health },
        "upstream health changed"
      );
      this.deps.onHealthChange?.(target, health);
    }
    this.deps.states.setHealth(target.id, health);
    await this.record(target, result);
    return health;
  }

  /** Routing does not depend on this: the state is already set, and a failed write is only logged. */
  private async record(target: UpstreamTarget, result: UpstreamHealthRecord): Promise<void> {
    if (!this.deps.healthLog) return;
    try {
      await this.deps.healthLog.record(target.id, result);
    } catch (error) {
      this.deps.logger.warn({ err: error, upstreamId: target.id }, "health check: cannot record the result");
    }
  }

  private async probe(target: UpstreamTarget): Promise<UpstreamHealthRecord> {
    const started = Date.now();
    const result = (httpStatus: number | null, error: string | null): UpstreamHealthRecord => ({
      up: error === null,
      checkedAt: new Date(),
      latencyMs: Date.now() - started,
      httpStatus,
      error,
    });
    const endpoint = endpointOf(target);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.deps.timeoutMs);
    try {
      const response = await this.deps.pools.poolFor(endpoint.origin).request({
        method: "GET",
        path: endpoint.modelsPath,
        headers: endpoint.probeHeaders,
        signal: controller.signal,
        headersTimeout: this.deps.timeoutMs,
        bodyTimeout: this.deps.timeoutMs,
      });
      await response.body.dump({ limit: 1024 * 1024 });
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      return result(response.statusCode, ok ? null : `GET /models answered HTTP ${response.statusCode}.`);
    } catch (error) {
      return result(null, probeFailure(error, this.deps.timeoutMs));
    } finally {
      clearTimeout(timer);
    }
  }

  private async allUpstreams(): Promise<UpstreamTarget[]> {
    const models = await this.deps.models.list();
    const lists = await Promise.all(models.map((model) => this.deps.directory.upstreamsFor(model.id)));
    const byId = new Map<string, UpstreamTarget>();
    for (const list of lists) for (const target of list) byId.set(target.id, target);
    return [...byId.values()];
  }
}

/** Why a probe got no answer, in a few words (the Provider page shows it). */
function probeFailure(error: unknown, timeoutMs: number): string {
  const { name, code, message, cause } = (error ?? {}) as {
    name?: string;
    code?: string;
    message?: string;
    cause?: { code?: string };
  };
  if (name === "AbortError" || /TIMEOUT/.test(code ?? "")) return `No answer within ${timeoutMs / 1000} s.`;
  return `Could not connect: ${cause?.code ?? code ?? message ?? String(error)}.`;
}
