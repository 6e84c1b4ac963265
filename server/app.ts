import type http from "node:http";
import Koa from "koa";
import pino, { type Logger } from "pino";
import { type GatewayConfig, loadConfig } from "./config";
import { ApiKeyAuthenticator } from "./domain/auth/apiKeyAuthenticator";
import { CachedModelCatalog, CachedUpstreamDirectory } from "./domain/caching/cachedCatalog";
import type { ChatCompletionDeps } from "./domain/chat/chatCompletionDeps";
import { SpendableHints } from "./domain/ledger/spendableHints";
import type { ApiKeyStore, Ledger, ModelCatalog, RateLimiter, ReadinessCheck, UpstreamDirectory } from "./domain/ports";
import { errorHandler } from "./http/errors/errorHandler";
import { closeGracefully, listen } from "./http/httpServer";
import { InFlightRequests } from "./http/middleware/inFlightRequests";
import { requestContext } from "./http/middleware/requestContext";
import { GatewayMetrics } from "./http/observability/gatewayMetrics";
import { gatewayRouter, unknownRoute } from "./http/routes/gatewayRouter";
import { HealthChecker } from "./providers/health/healthChecker";
import type { UpstreamHealthLog } from "./providers/health/upstreamHealthLog";
import { UpstreamPools } from "./providers/openai-compatible/upstreamPools";
import { ProviderRouter } from "./providers/routing/providerRouter";
import { UpstreamStates } from "./providers/routing/upstreamStates";
import { createWebApi, type WebDeps } from "./web/webApi";
import { staticSite, webAppBuilt } from "./web/static/staticSite";

/** The ports the gateway runs on: Postgres (server/persistence), the rate limiter, or test doubles. */
export interface GatewayPorts {
  apiKeys: ApiKeyStore;
  models: ModelCatalog;
  upstreams: UpstreamDirectory;
  ledger: Ledger;
  rateLimiter: RateLimiter;
  readiness: ReadinessCheck;
  /** Where upstream health checks are written for the Provider page; without it they stay in memory. */
  upstreamHealth?: UpstreamHealthLog;
}

export interface GatewayDeps extends GatewayPorts {
  config: GatewayConfig;
  logger?: Logger;
  /** Milliseconds since the epoch; tests may pass a fake clock. */
  now?: () => number;
  /** With it, the web app's JSON API (sign-in, keys, account, usage) is served under /api. */
  web?: WebDeps;
}

export interface GatewayApp {
  readonly koa: Koa;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly upstreamStates: UpstreamStates;
  readonly healthChecker: HealthChecker;
  /** Starts the periodic upstream health checks. */
  startBackgroundTasks(): void;
  /** From now on `/readyz` answers 503, so load balancers stop sending traffic. */
  drain(): void;
  /** Resolves when the requests in flight have finished (usage committed), or after `timeoutMs`. */
  requestsSettled(timeoutMs: number): Promise<void>;
  /** Stops background work and closes upstream connections. */
  close(): Promise<void>;
}

/** How long a log line may wait in the stdout buffer before it is written anyway. */
const LOG_FLUSH_INTERVAL_MS = 1_000;

/**
 * Logs to stdout without a write() per line: lines are buffered (4 KiB) and
 * written asynchronously, at the latest after `LOG_FLUSH_INTERVAL_MS`, by
 * `flushLogger` (every stop calls it) and, on process exit, synchronously.
 */
export function createLogger(config: Pick<GatewayConfig, "logLevel">): Logger {
  const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  const timer = setInterval(() => {
    try {
      destination.flush();
    } catch {
      clearInterval(timer); // destroyed
    }
  }, LOG_FLUSH_INTERVAL_MS);
  timer.unref();
  destination.once("close", () => clearInterval(timer));
  return pino({ level: config.logLevel, base: { service: "shareai-gateway" } }, destination);
}

/** Resolves when the lines logged so far have been written (at most `timeoutMs` later). */
export function flushLogger(logger: Logger, timeoutMs = 2_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    try {
      logger.flush(done);
    } catch {
      done();
    }
  });
}

const WEB_API_PATH = /^\/api(?:\/|$)/i;

/** Builds the gateway from its ports. Everything derived (caches, pools, routing state) is built once here, not per request. */
export function createApp(deps: GatewayDeps): GatewayApp {
  const { config } = deps;
  const now = deps.now ?? Date.now;
  const logger = deps.logger ?? createLogger(config);
  const metrics = new GatewayMetrics();
  const models = new CachedModelCatalog(deps.models, config.catalogCacheTtlMs, now);
  const upstreams = new CachedUpstreamDirectory(deps.upstreams, config.catalogCacheTtlMs, now);
  const pools = new UpstreamPools(config.upstreamTimeouts);
  const upstreamStates = new UpstreamStates({
    failureThreshold: config.circuitBreaker.failures,
    cooldownMs: config.circuitBreaker.cooldownMs,
    now,
  });
  const router = new ProviderRouter({
    directory: upstreams,
    states: upstreamStates,
    pools,
    timeouts: config.upstreamTimeouts,
    now,
    listener: metrics,
  });
  const healthChecker = new HealthChecker({
    models,
    directory: upstreams,
    states: upstreamStates,
    pools,
    intervalMs: config.healthCheck.intervalMs,
    timeoutMs: config.healthCheck.timeoutMs,
    logger,
    healthLog: deps.upstreamHealth,
  });
  const chat: ChatCompletionDeps = {
    models,
    upstreams,
    ledger: deps.ledger,
    rateLimiter: deps.rateLimiter,
    router,
    holdTtlMs: config.holdTtlMs,
    spendableHints: new SpendableHints(now),
    observer: metrics,
    logger,
    now,
  };
  const authenticator = new ApiKeyAuthenticator(deps.apiKeys, { ttlMs: config.apiKeyCacheTtlMs, now });
  let draining = false;
  const inFlight = new InFlightRequests();

  const koa = new Koa();
  // Errors are answered and logged by errorHandler; Koa's own stderr printing would duplicate them.
  koa.silent = true;
  // Behind a reverse proxy, ctx.ip (sign-in limits) is the client's: X-Forwarded-For's last entry, the one our
  // proxy appended. Earlier entries are whatever the client sent and prove nothing.
  koa.proxy = config.trustProxy;
  koa.maxIpsCount = 1;
  const routes = gatewayRouter({
    chat,
    catalog: models,
    authenticator,
    readiness: deps.readiness,
    metrics,
    maxBodyBytes: config.maxBodyBytes,
    isDraining: () => draining,
  });
  koa.use(inFlight.middleware);
  koa.use(requestContext(logger, metrics));
  koa.use(errorHandler(logger, config.maxBodyBytes));
  koa.use(routes.chatCompletionsFastPath);
  if (deps.web) {
    const webApi = createWebApi({
      web: deps.web,
      gatewayConfig: config,
      catalog: models,
      authenticator,
      rateLimiter: deps.rateLimiter,
      now,
    }).routes() as Koa.Middleware;
    // Every web API route is under /api (matched case-insensitively, as @koa/router does): /v1 skips its router.
    koa.use((ctx, next) => (WEB_API_PATH.test(ctx.path) ? webApi(ctx, next) : next()));
  }
  koa.use(routes.router.routes());
  // The web app (web/dist, built by `npm run build:web`) at `/`, with its /api, when it has been built.
  if (deps.web && webAppBuilt()) koa.use(staticSite());
  koa.use(unknownRoute);

  return {
    koa,
    logger,
    metrics,
    upstreamStates,
    healthChecker,
    startBackgroundTasks: () => healthChecker.start(),
    drain: () => {
      draining = true;
    },
    requestsSettled: (timeoutMs) => inFlight.settled(timeoutMs),
    close: async () => {
      await healthChecker.stop();
      await pools.close();
    },
  };
}

export interface StartOptions {
  ports: GatewayPorts;
  /** Validated configuration; read from `env` (default: process.env) when absent. */
  config?: GatewayConfig;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  now?: () => number;
  /** Serves the web app's JSON API under /api (see `GatewayDeps.web`). */
  web?: WebDeps;
}

export interface RunningGateway {
  app: GatewayApp;
  server: http.Server;
  /** The base URL of the OpenAI API: `…/v1`. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

const running = new Set<RunningGateway>();

/** How long a stop waits, after the grace period, for cut requests to commit their usage. */
const SETTLE_AFTER_CLOSE_MS = 5_000;

/** Validates the configuration, then listens (port 0 picks a free one) and starts the health checks. */
export async function start(options: StartOptions): Promise<RunningGateway> {
  const config = options.config ?? loadConfig(options.env ?? process.env);
  const app = createApp({ ...options.ports, config, logger: options.logger, now: options.now, web: options.web });
  const { server, port } = await listen(app.koa.callback(), config.port, config.host);
  app.startBackgroundTasks();
  const base = config.publicBaseUrl ?? `http://${displayHost(config.host)}:${port}`;
  const gateway: RunningGateway = {
    app,
    server,
    port,
    url: `${base.replace(/\/+$/, "")}/v1`,
    stop: async () => {
      if (!running.delete(gateway)) return;
      // Readiness fails first, so load balancers stop sending traffic while requests in flight finish.
      app.drain();
      await closeGracefully(server, config.shutdownGraceMs);
      // Connections cut at the end of the grace period still have handlers metering what was
      // delivered; their usage must be committed before the upstream pools close under them.
      await app.requestsSettled(SETTLE_AFTER_CLOSE_MS);
      await app.close();
      app.logger.info("gateway stopped");
      await flushLogger(app.logger);
    },
  };
  running.add(gateway);
  app.logger.info({ url: gateway.url }, "gateway listening");
  return gateway;
}

/** A host a browser on this machine can use: the wildcard addresses are not addresses to connect to. */
function displayHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

/** Stops one gateway, or every gateway this process started. */
export async function stop(gateway?: RunningGateway): Promise<void> {
  await Promise.all((gateway ? [gateway] : [...running]).map((g) => g.stop()));
}
