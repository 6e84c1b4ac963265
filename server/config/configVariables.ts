import { z } from "zod";

/**
 * Every environment variable the gateway reads: its schema, its default and
 * what it means. `loadConfig` parses with these and `describeConfig` renders
 * them for the README, so the documentation cannot drift from the code.
 */
export interface ConfigVariable {
  description: string;
  /** The default as shown to a human; undefined when the variable is optional with no default. */
  defaultText?: string;
  /** Parses the raw string (undefined when unset or empty). */
  schema: z.ZodType;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function integer(min: number, max: number, fallback: number): z.ZodType<number> {
  return z
    .string()
    .regex(/^\d+$/, `must be a whole number between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    .optional()
    .transform((value) => value ?? fallback);
}

function url(protocols: readonly string[]): z.ZodType<string | null> {
  return z
    .string()
    .refine((raw) => {
      try {
        return protocols.includes(new URL(raw).protocol);
      } catch {
        return false;
      }
    }, `must be a URL starting with ${protocols.map((p) => `${p}//`).join(" or ")}`)
    .optional()
    .transform((value) => value ?? null);
}

/** 32 bytes for AES-256-GCM, as 64 hex digits or as base64. */
const encryptionKey = z
  .string()
  .transform((raw, ctx) => {
    const bytes = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, "hex") : decodeBase64(raw);
    if (bytes?.length !== 32) {
      ctx.addIssue({ code: "custom", message: "must be 32 bytes, as 64 hex digits or base64" });
      return z.NEVER;
    }
    return bytes;
  })
  .optional()
  .transform((value) => value ?? null);

function decodeBase64(raw: string): Buffer | null {
  return /^[A-Za-z0-9+/_-]+={0,2}$/.test(raw) ? Buffer.from(raw, "base64") : null;
}

const DAY_MS = 86_400_000;

export const CONFIG_VARIABLES = {
  PORT: {
    description: "TCP port the gateway listens on; 0 picks a free port (tests).",
    defaultText: "8080",
    schema: integer(0, 65_535, 8080),
  },
  HOST: {
    description: "Interface to bind; 0.0.0.0 to accept connections from other machines.",
    defaultText: "127.0.0.1",
    schema: z
      .string()
      .min(1)
      .optional()
      .transform((value) => value ?? "127.0.0.1"),
  },
  PUBLIC_BASE_URL: {
    description: "The URL clients use to reach the gateway (printed and linked); defaults to http://HOST:PORT.",
    schema: url(["http:", "https:"]),
  },
  DATABASE_URL: {
    description: "Postgres connection string. Unset: an embedded Postgres is started in PG_DATA_DIR.",
    schema: url(["postgres:", "postgresql:"]),
  },
  PG_DATA_DIR: {
    description: "Data folder of the embedded Postgres (used only without DATABASE_URL).",
    defaultText: ".data/postgres",
    schema: z
      .string()
      .min(1)
      .optional()
      .transform((value) => value ?? ".data/postgres"),
  },
  REDIS_URL: {
    description:
      "Redis for rate-limit counters shared by every gateway instance. Unset: counters in memory, per instance.",
    schema: url(["redis:", "rediss:"]),
  },
  LOG_LEVEL: {
    description: `pino log level: ${LOG_LEVELS.join(", ")}.`,
    defaultText: "info",
    schema: z
      .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(", ")}` })
      .optional()
      .transform((value): LogLevel => value ?? "info"),
  },
  MAX_BODY_BYTES: {
    description: "Largest accepted request body; larger ones get 413.",
    defaultText: "10485760",
    schema: integer(1024, 100 * 1024 * 1024, 10 * 1024 * 1024),
  },
  UPSTREAM_CONNECT_TIMEOUT_MS: {
    description: "How long to wait for a TCP/TLS connection to an upstream before failing over.",
    defaultText: "5000",
    schema: integer(1, 600_000, 5000),
  },
  UPSTREAM_FIRST_BYTE_TIMEOUT_MS: {
    description:
      "How long an upstream may take to start answering: response headers for a non-stream request, the first event for a stream. Past it, the gateway fails over.",
    defaultText: "60000",
    schema: integer(1, 3_600_000, 60_000),
  },
  UPSTREAM_IDLE_TIMEOUT_MS: {
    description:
      "Longest silence allowed between two pieces of an upstream's body once it has started; past it the response ends with an error.",
    defaultText: "30000",
    schema: integer(1, 3_600_000, 30_000),
  },
  HOLD_TTL_MS: {
    description:
      "Lifetime of a balance hold that nobody released (a crashed instance); must outlast the longest request.",
    defaultText: "900000",
    schema: integer(10_000, DAY_MS, 900_000),
  },
  HEALTH_CHECK_INTERVAL_MS: {
    description: "Interval between health checks (GET {baseUrl}/models) of every upstream.",
    defaultText: "15000",
    schema: integer(100, DAY_MS, 15_000),
  },
  HEALTH_CHECK_TIMEOUT_MS: {
    description: "How long one health check may take before the upstream counts as down.",
    defaultText: "5000",
    schema: integer(1, 600_000, 5000),
  },
  CIRCUIT_BREAKER_FAILURES: {
    description: "Consecutive failed requests after which an upstream is taken out of rotation.",
    defaultText: "5",
    schema: integer(1, 1000, 5),
  },
  CIRCUIT_BREAKER_COOLDOWN_MS: {
    description: "How long an upstream stays out after its breaker opened, before one trial request is let through.",
    defaultText: "30000",
    schema: integer(1, DAY_MS, 30_000),
  },
  API_KEY_CACHE_TTL_MS: {
    description:
      "How long a key lookup (found or not) is cached in memory; a revoked key stops working within this time.",
    defaultText: "5000",
    schema: integer(0, 600_000, 5000),
  },
  CATALOG_CACHE_TTL_MS: {
    description:
      "How long models, rates and upstream lists are cached in memory; changes take effect within this time.",
    defaultText: "5000",
    schema: integer(0, 600_000, 5000),
  },
  SHUTDOWN_GRACE_MS: {
    description: "On stop, how long in-flight requests may finish before connections are closed.",
    defaultText: "10000",
    schema: integer(0, 600_000, 10_000),
  },
  UPSTREAM_KEY_ENCRYPTION_KEY: {
    description:
      "32-byte key (64 hex digits or base64) that encrypts upstream API keys at rest (AES-256-GCM). Required to store an upstream key.",
    schema: encryptionKey,
  },
  CHAIN_ID: {
    description:
      "EIP-155 id of the chain the escrow lives on. Sign-in messages (EIP-4361) must name it; 31337 is a local Hardhat chain.",
    defaultText: "31337",
    schema: integer(1, Number.MAX_SAFE_INTEGER, 31_337),
  },
  SESSION_TTL_MS: {
    description:
      "How long a web session lasts after signing in with a wallet; the user signs in again after it. Signing out ends it at once.",
    defaultText: "604800000",
    schema: integer(60_000, 90 * DAY_MS, 7 * DAY_MS),
  },
  SIWE_NONCE_TTL_MS: {
    description:
      "How long a sign-in nonce (GET /api/auth/nonce) may wait for its signed message; each nonce signs in once.",
    defaultText: "600000",
    schema: integer(10_000, DAY_MS, 600_000),
  },
} satisfies Record<string, ConfigVariable>;

export type ConfigVariableName = keyof typeof CONFIG_VARIABLES;
