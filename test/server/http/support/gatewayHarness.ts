import OpenAI from "openai";
import pino from "pino";
import { type RunningGateway, start } from "../../../../server/app";
import { loadConfig } from "../../../../server/config";
import type { UpstreamTarget } from "../../../../server/domain/ports";
import type { ApiKey, Model } from "../../../../server/domain/types";
import { type MemoryPorts, createMemoryPorts } from "../../../support/memoryPorts";
import { MockUpstream, type MockUpstreamOptions } from "../../../support/mockUpstream";

export const ACCOUNT = "0x00000000000000000000000000000000000000aa";
export const PROVIDER_ADDRESS = "0x00000000000000000000000000000000000000bb";
export const MODEL_ID = "shareai/echo-1";

export interface GatewayHarness {
  ports: MemoryPorts;
  upstreams: MockUpstream[];
  gateway: RunningGateway;
  model: Model;
  key: ApiKey;
  secret: string;
  /** The official SDK pointed at the gateway with the harness key. */
  client: OpenAI;
  /** Requests the gateway's HTTP server received (counts the SDK's retries). */
  gatewayHits(): number;
  sdk(options?: { apiKey?: string; maxRetries?: number }): OpenAI;
  close(): Promise<void>;
}

export interface HarnessOptions {
  upstreamCount?: number;
  upstreamOptions?: MockUpstreamOptions;
  /** Environment overrides for the gateway's configuration. */
  env?: Record<string, string>;
  depositBase?: bigint;
  model?: Partial<Model>;
  key?: Partial<ApiKey>;
  /** Add upstreams to the directory (false: a deployment with no provider). */
  registerUpstreams?: boolean;
  /** Simulated database latency of every ledger operation. */
  ledgerLatencyMs?: number;
}

/** A gateway on port 0 over in-memory ports, with mock upstreams serving one model, and a funded key. */
export async function startGatewayHarness(options: HarnessOptions = {}): Promise<GatewayHarness> {
  const ports = createMemoryPorts({ ledgerLatencyMs: options.ledgerLatencyMs });
  const model = ports.models.add({ id: MODEL_ID, ...options.model });
  const upstreams = await Promise.all(
    Array.from({ length: options.upstreamCount ?? 1 }, () => MockUpstream.start(options.upstreamOptions))
  );
  if (options.registerUpstreams !== false) {
    upstreams.forEach((mock, i) => ports.upstreams.add(upstreamTarget(mock, i), [model.id]));
  }
  const { secret, key } = ports.apiKeys.create({ account: ACCOUNT, ...options.key });
  ports.ledger.deposit(ACCOUNT, options.depositBase ?? 1_000_000_000n);

  const config = loadConfig({
    PORT: "0",
    LOG_LEVEL: "silent",
    HEALTH_CHECK_INTERVAL_MS: "600000",
    UPSTREAM_FIRST_BYTE_TIMEOUT_MS: "2000",
    UPSTREAM_IDLE_TIMEOUT_MS: "2000",
    SHUTDOWN_GRACE_MS: "100",
    // Tests change ports after start and expect to see it; the caches have tests of their own.
    CATALOG_CACHE_TTL_MS: "0",
    API_KEY_CACHE_TTL_MS: "0",
    ...options.env,
  });
  const gateway = await start({ ports, config, logger: pino({ level: "silent" }) });
  let hits = 0;
  gateway.server.on("request", () => (hits += 1));
  const sdk = (o: { apiKey?: string; maxRetries?: number } = {}) =>
    new OpenAI({ baseURL: gateway.url, apiKey: o.apiKey ?? secret, maxRetries: o.maxRetries ?? 2 });

  return {
    ports,
    upstreams,
    gateway,
    model,
    key,
    secret,
    client: sdk(),
    gatewayHits: () => hits,
    sdk,
    close: async () => {
      await gateway.stop();
      await Promise.all(upstreams.map((u) => u.close()));
    },
  };
}

export function upstreamTarget(
  mock: MockUpstream,
  index: number,
  overrides: Partial<UpstreamTarget> = {}
): UpstreamTarget {
  return {
    id: `upstream-${index}`,
    providerId: `provider-${index}`,
    providerAddress: PROVIDER_ADDRESS,
    baseUrl: mock.baseUrl,
    apiKey: null,
    upstreamModel: "mock-model",
    ...overrides,
  };
}

/** Waits until `condition` holds (the gateway settles a stream after the client saw its end). */
export async function eventually(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
