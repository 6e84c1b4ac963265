import { z } from "zod";
import { CONFIG_VARIABLES, type ConfigVariableName, type LogLevel } from "./configVariables";

export interface UpstreamTimeouts {
  connectMs: number;
  firstByteMs: number;
  idleMs: number;
}

/** The gateway's validated configuration. */
export interface GatewayConfig {
  port: number;
  host: string;
  /** Explicit PUBLIC_BASE_URL, or null to derive it from the bound address. */
  publicBaseUrl: string | null;
  databaseUrl: string | null;
  pgDataDir: string;
  redisUrl: string | null;
  logLevel: LogLevel;
  maxBodyBytes: number;
  upstreamTimeouts: UpstreamTimeouts;
  holdTtlMs: number;
  healthCheck: { intervalMs: number; timeoutMs: number };
  circuitBreaker: { failures: number; cooldownMs: number };
  apiKeyCacheTtlMs: number;
  catalogCacheTtlMs: number;
  shutdownGraceMs: number;
  upstreamKeyEncryptionKey: Buffer | null;
}

/** Variables whose value must not be echoed in an error (credentials). */
const SECRET_VARIABLES = new Set<ConfigVariableName>(["DATABASE_URL", "REDIS_URL", "UPSTREAM_KEY_ENCRYPTION_KEY"]);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

const envSchema = z.object(
  Object.fromEntries(Object.entries(CONFIG_VARIABLES).map(([name, variable]) => [name, variable.schema]))
);

/** Reads and validates the configuration from the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const raw: Record<string, string | undefined> = {};
  for (const name of Object.keys(CONFIG_VARIABLES)) {
    const value = env[name]?.trim();
    // An empty variable means unset: `PORT= npm start` should not be an error.
    raw[name] = value === "" ? undefined : value;
  }
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0]) as ConfigVariableName;
        const shown =
          SECRET_VARIABLES.has(name) || raw[name] === undefined ? "" : ` (got ${JSON.stringify(raw[name])})`;
        return `${name} ${issue.message}${shown}`;
      })
    );
  }
  const v = parsed.data as { [K in ConfigVariableName]: z.output<(typeof CONFIG_VARIABLES)[K]["schema"]> };
  // A hold that expires while its request is still waiting for the upstream would let that request overspend.
  if (v.HOLD_TTL_MS <= v.UPSTREAM_FIRST_BYTE_TIMEOUT_MS) {
    throw new ConfigError([
      `HOLD_TTL_MS must be larger than UPSTREAM_FIRST_BYTE_TIMEOUT_MS (${v.UPSTREAM_FIRST_BYTE_TIMEOUT_MS})`,
    ]);
  }
  return {
    port: v.PORT,
    host: v.HOST,
    publicBaseUrl: v.PUBLIC_BASE_URL,
    databaseUrl: v.DATABASE_URL,
    pgDataDir: v.PG_DATA_DIR,
    redisUrl: v.REDIS_URL,
    logLevel: v.LOG_LEVEL,
    maxBodyBytes: v.MAX_BODY_BYTES,
    upstreamTimeouts: {
      connectMs: v.UPSTREAM_CONNECT_TIMEOUT_MS,
      firstByteMs: v.UPSTREAM_FIRST_BYTE_TIMEOUT_MS,
      idleMs: v.UPSTREAM_IDLE_TIMEOUT_MS,
    },
    holdTtlMs: v.HOLD_TTL_MS,
    healthCheck: { intervalMs: v.HEALTH_CHECK_INTERVAL_MS, timeoutMs: v.HEALTH_CHECK_TIMEOUT_MS },
    circuitBreaker: { failures: v.CIRCUIT_BREAKER_FAILURES, cooldownMs: v.CIRCUIT_BREAKER_COOLDOWN_MS },
    apiKeyCacheTtlMs: v.API_KEY_CACHE_TTL_MS,
    catalogCacheTtlMs: v.CATALOG_CACHE_TTL_MS,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    upstreamKeyEncryptionKey: v.UPSTREAM_KEY_ENCRYPTION_KEY,
  };
}
