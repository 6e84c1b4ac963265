import pino from "pino";
import { type GatewayConfig, loadConfig } from "../../server/config";
import { openGatewayDatabase } from "../../server/main/gatewayDatabase";
import { type GatewayProcess, startGateway } from "../../server/main/startGateway";
import type { Database } from "../../server/persistence";

/**
 * The gateway as production composes it, for the system tests: the
 * composition root `startGateway` (Postgres ports, the rate limiter — Redis
 * when REDIS_URL is set —, the HTTP app on 127.0.0.1 port 0, the upstream
 * health checks and the hold sweeper) over the database of
 * `openGatewayDatabase`. The tests and the child process of the kill -9 test
 * (test/support/gatewayChild.ts) run this same composition.
 */

/** Quiet, fast defaults for tests; a test's `env` overrides any of them. */
export const SYSTEM_TEST_ENV: Readonly<Record<string, string>> = {
  PORT: "0",
  HOST: "127.0.0.1",
  LOG_LEVEL: "silent",
  HEALTH_CHECK_INTERVAL_MS: "600000",
  HEALTH_CHECK_TIMEOUT_MS: "1000",
  UPSTREAM_CONNECT_TIMEOUT_MS: "1000",
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: "5000",
  UPSTREAM_IDLE_TIMEOUT_MS: "5000",
  HOLD_TTL_MS: "60000",
  SHUTDOWN_GRACE_MS: "200",
};

export interface SystemGatewayOptions {
  databaseUrl: string;
  /** Configuration variables over SYSTEM_TEST_ENV (REDIS_URL defaults to the test run's). */
  env?: Record<string, string | undefined>;
  /**
   * Applied after validation, for values the schema refuses on purpose but a
   * test needs (a hold TTL of 2 s instead of the 10 s minimum, so the kill -9
   * test does not wait for 10 s).
   */
  configOverrides?: Partial<GatewayConfig>;
  /**
   * Runs on the opened database before the gateway starts (seeding models,
   * providers, keys), as an operator configures a deployment before starting
   * it. What is added after start is seen within CATALOG_CACHE_TTL_MS: the
   * first health-check round may cache a model's upstream list while a test is
   * still adding to it.
   */
  beforeStart?: (db: Database) => Promise<void>;
}

export interface SystemGateway {
  /** The instance's own database handle (its pool, its ledger). */
  db: Database;
  process: GatewayProcess;
  /** The OpenAI base URL (`http://127.0.0.1:<port>/v1`). */
  url: string;
  /** The gateway's origin, for `/metrics`, `/healthz`, `/readyz`. */
  origin: string;
  config: GatewayConfig;
  rateLimiterBackend: "memory" | "redis";
  /** Stops the gateway (draining), then closes its database. Idempotent. */
  stop(): Promise<void>;
}

export function systemConfig(
  databaseUrl: string,
  env: Record<string, string | undefined> = {},
  overrides: Partial<GatewayConfig> = {},
): GatewayConfig {
  const config = loadConfig({
    ...SYSTEM_TEST_ENV,
    REDIS_URL: process.env.REDIS_URL,
    ...env,
    DATABASE_URL: databaseUrl,
  });
  return { ...config, ...overrides };
}

export async function startSystemGateway(options: SystemGatewayOptions): Promise<SystemGateway> {
  const config = systemConfig(options.databaseUrl, options.env, options.configOverrides);
  const logger = pino({ level: config.logLevel });
  // Opened here rather than by startGateway, so that a test can seed it before the gateway starts.
  const db = await openGatewayDatabase(config, { logger });
  try {
    await options.beforeStart?.(db);
    const gateway = await startGateway(config, { logger, database: db });
    let stopping: Promise<void> | null = null;
    return {
      db,
      process: gateway,
      url: gateway.url,
      origin: gateway.url.replace(/\/v1$/, ""),
      config,
      rateLimiterBackend: gateway.rateLimitBackend,
      stop() {
        stopping ??= (async () => {
          try {
            await gateway.stop();
          } finally {
            await db.close();
          }
        })();
        return stopping;
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}

/** The value of `shareai_http_requests_total` for a route and status, read from the gateway's `/metrics`. */
export async function requestsCounted(gateway: SystemGateway, route: string, status: number): Promise<number> {
  const text = await (await fetch(`${gateway.origin}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("shareai_http_requests_total{")) continue;
    if (!line.includes(`route="${route}"`) || !line.includes(`status="${status}"`)) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}
