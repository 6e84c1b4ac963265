import { loadConfig, type GatewayConfig } from "../../../../server/config";

/** A gateway configuration for tests: any free port, no logs, no caching, no background health checks. */
export function testConfig(databaseUrl: string, more: Record<string, string> = {}): GatewayConfig {
  return loadConfig({
    PORT: "0",
    LOG_LEVEL: "silent",
    DATABASE_URL: databaseUrl,
    HEALTH_CHECK_INTERVAL_MS: "600000",
    CATALOG_CACHE_TTL_MS: "0",
    API_KEY_CACHE_TTL_MS: "0",
    SHUTDOWN_GRACE_MS: "2000",
    ...more,
  });
}
