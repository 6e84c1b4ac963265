import type { Logger } from "pino";
import { createLogger, flushLogger, start } from "../app";
import type { GatewayConfig } from "../config";
import { startHoldSweeper } from "../domain/ledger/holdSweeper";
import { createRateLimiter } from "../domain/rateLimit";
import type { Database } from "../persistence";
import { findFreePort } from "../persistence/freePort";
import { pgPoolOf } from "../persistence/pgPool";
import { postgresWebStores, type WebDeps } from "../web";
import { receiptRoutes } from "../web/receipts/receiptRoutes";
import { connectChain, type ChainConnection } from "./chain/chainConnection";
import { startChainWorkers, type ChainWorkers } from "./chain/chainWorkers";
import { openGatewayDatabase } from "./gatewayDatabase";
import { startAll } from "./lifecycle";
import { assertPortAvailable } from "./portAvailability";

export interface StartGatewayOptions {
  logger?: Logger;
  /**
   * A database the caller opened and will close itself (the local network
   * opens it first, to register its demo provider). Without it, the database
   * the configuration names is opened here and closed by `stop()`.
   */
  database?: Database;
  /**
   * The escrow's chain, for the chain watcher and the settlement worker.
   * Unset: the chain RPC_URL names (`connectChain`), or none without RPC_URL.
   * null: none, whatever the configuration says (a gateway without a chain:
   * balances come from `shareai accounts set-balance`, nothing is settled).
   */
  chain?: ChainConnection | null;
  /** /api routes beyond the web API's own; default: the settlement module's receipt and voucher routes. */
  extraWebRoutes?: WebDeps["extraRoutes"];
}

/** One gateway instance: the HTTP API, its health checks and its hold sweeper, over one database. */
export interface GatewayProcess {
  /** The OpenAI base URL, `…/v1`. */
  url: string;
  port: number;
  database: Database;
  rateLimitBackend: "memory" | "redis";
  /** The chain it follows and settles on, with its workers; null without a chain. */
  chain: (ChainConnection & { workers: ChainWorkers }) | null;
  /**
   * Stops in reverse order of start: the hold sweeper; the HTTP server
   * (readiness fails, no new connections, requests in flight get
   * SHUTDOWN_GRACE_MS to finish, health checks and upstream connections end);
   * the rate limiter; the settlement worker and the chain watcher; then, if it opened it, the database (reserves and
   * commits in progress finish, key uses are written, the pool closes, the
   * embedded Postgres stops). Idempotent.
   */
  stop(): Promise<void>;
}

/**
 * Sweeping is cheap (an indexed range scan) and only matters after a crash, so
 * a fraction of the hold lifetime is soon enough without polling hard.
 */
function holdSweepIntervalMs(holdTtlMs: number): number {
  return Math.min(60_000, Math.max(1_000, Math.floor(holdTtlMs / 10)));
}

/**
 * The gateway's composition root: from a validated configuration to a
 * serving instance. Signals are the caller's business (the CLI's `start`).
 * Every instance of a deployment runs this same thing, the chain watcher and
 * the settlement worker included (an advisory lock elects the instance that
 * acts). The web API is served under /api.
 */
export async function startGateway(
  gatewayConfig: GatewayConfig,
  options: StartGatewayOptions = {},
): Promise<GatewayProcess> {
  const logger = options.logger ?? createLogger(gatewayConfig);
  // The web API names its own address in sign-in messages and CSRF checks, so PORT=0 is resolved
  // here, before anything listens, rather than left to the HTTP server.
  const config =
    gatewayConfig.port === 0 && !gatewayConfig.publicBaseUrl
      ? { ...gatewayConfig, port: await findFreePort() }
      : gatewayConfig;
  const { value, lifecycle } = await startAll(async (lifecycle) => {
    await assertPortAvailable(config.host, config.port);
    const database =
      options.database ?? lifecycle.add("database", await openGatewayDatabase(config, { logger }), (db) => db.close());
    let chain: ChainConnection | null = null;
    if (options.chain !== undefined) {
      chain = options.chain;
    } else if (config.chain.rpcUrl) {
      chain = lifecycle.add("chain connection", await connectChain(config), (c) => c.provider.destroy());
    }
    // Before the HTTP server: the watcher catches up first, so balances are the chain's when requests come.
    const workers = chain
      ? lifecycle.add("chain watcher and settlement worker", await startChainWorkers(database, chain, logger), (w) =>
          w.stop(),
        )
      : null;
    const web: WebDeps = {
      stores: postgresWebStores(database),
      config: config.web,
      escrow: { escrowAddress: chain?.escrowAddress ?? null, tokenAddress: chain?.tokenAddress ?? null },
      thawEndsAt: async (account) => {
        const balance = await database.chain.payerBalance(account);
        return balance && balance.thawEndsAt > 0n ? new Date(Number(balance.thawEndsAt) * 1000) : null;
      },
      extraRoutes:
        options.extraWebRoutes ??
        receiptRoutes({
          pool: pgPoolOf(database.dataSource),
          // Without a chain: the escrow the database mirrors, if any (else 503 settlement_not_configured).
          escrow: chain ? { address: chain.escrowAddress.toLowerCase(), chainId: chain.chainId } : undefined,
          settlementIntervalMs: workers?.worker.status().settings.intervalMs,
          settlementPollMs: workers?.worker.status().settings.pollMs,
        }),
    };
    const rateLimiter = lifecycle.add(
      "rate limiter",
      await createRateLimiter({ redisUrl: config.redisUrl, logger }),
      (handle) => handle.close(),
    );
    // Listens (port 0: any free one) and starts the upstream health checks.
    const http = lifecycle.add(
      "HTTP server",
      await start({
        config,
        logger,
        ports: {
          apiKeys: database.apiKeyStore,
          models: database.modelCatalog,
          upstreams: database.upstreamDirectory,
          upstreamHealth: database.upstreamHealth,
          ledger: database.ledger,
          rateLimiter: rateLimiter.limiter,
          readiness: database.readiness,
        },
        web,
      }),
      (gateway) => gateway.stop(),
    );
    lifecycle.add(
      "hold sweeper",
      startHoldSweeper(database.ledger, {
        intervalMs: holdSweepIntervalMs(config.holdTtlMs),
        onError: (error) => logger.warn({ err: error }, "hold sweeper: sweep failed"),
        onSwept: (released) => logger.info({ released }, "hold sweeper: released expired holds"),
      }),
      (sweeper) => sweeper.stop(),
    );
    return {
      database,
      http,
      rateLimitBackend: rateLimiter.backend,
      chain: chain && workers ? { ...chain, workers } : null,
    };
  });
  return {
    url: value.http.url,
    port: value.http.port,
    database: value.database,
    rateLimitBackend: value.rateLimitBackend,
    chain: value.chain,
    // Log lines are buffered (createLogger): the last ones are written before stop resolves.
    stop: () => lifecycle.stop().finally(() => flushLogger(logger)),
  };
}
