import type { Logger } from "pino";
import { createLogger, start } from "../app";
import type { GatewayConfig } from "../config";
import { startHoldSweeper } from "../domain/ledger/holdSweeper";
import { createRateLimiter } from "../domain/rateLimit";
import type { Database } from "../persistence";
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
}

/** One gateway instance: the HTTP API, its health checks and its hold sweeper, over one database. */
export interface GatewayProcess {
  /** The OpenAI base URL, `…/v1`. */
  url: string;
  port: number;
  database: Database;
  rateLimitBackend: "memory" | "redis";
  /**
   * Stops in reverse order of start: the hold sweeper; the HTTP server
   * (readiness fails, no new connections, requests in flight get
   * SHUTDOWN_GRACE_MS to finish, health checks and upstream connections end);
   * the rate limiter; then, if it opened it, the database (reserves and
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
 * Every instance of a deployment runs this same thing; the chain watcher and
 * settlement worker will join here, since they run in every instance too.
 */
export async function startGateway(config: GatewayConfig, options: StartGatewayOptions = {}): Promise<GatewayProcess> {
  const logger = options.logger ?? createLogger(config);
  const { value, lifecycle } = await startAll(async (lifecycle) => {
    await assertPortAvailable(config.host, config.port);
    const database =
      options.database ?? lifecycle.add("database", await openGatewayDatabase(config, { logger }), (db) => db.close());
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
          ledger: database.ledger,
          rateLimiter: rateLimiter.limiter,
          readiness: database.readiness,
        },
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
    return { database, http, rateLimitBackend: rateLimiter.backend };
  });
  return {
    url: value.http.url,
    port: value.http.port,
    database: value.database,
    rateLimitBackend: value.rateLimitBackend,
    stop: () => lifecycle.stop(),
  };
}
