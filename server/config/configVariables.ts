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

function flag(fallback: boolean): z.ZodType<boolean> {
  return z
    .enum(["true", "false", "1", "0", "yes", "no"], { error: "must be true or false" })
    .optional()
    .transform((value) => (value === undefined ? fallback : ["true", "1", "yes"].includes(value)));
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

/** A whole number that stays null when unset (its default depends on the chain, or on the local network). */
function optionalInteger(min: number, max: number): z.ZodType<number | null> {
  return z
    .string()
    .regex(/^\d+$/, `must be a whole number between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`))
    .optional()
    .transform((value) => value ?? null);
}

function optionalBigInt(min: bigint): z.ZodType<bigint | null> {
  return z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(BigInt)
    .refine((value) => value >= min, `must be at least ${min}`)
    .optional()
    .transform((value) => value ?? null);
}

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be an address (0x and 40 hex digits)")
  .optional()
  .transform((value) => value ?? null);

/** A private key: 64 hex digits, with or without 0x. Never echoed in errors. */
const privateKey = z
  .string()
  .regex(/^(0x)?[0-9a-fA-F]{64}$/, "must be a 32-byte private key as 64 hex digits")
  .transform((value) => (value.startsWith("0x") ? value : `0x${value}`))
  .optional()
  .transform((value) => value ?? null);

const rpcUrl = z
  .string()
  .refine((raw) => /^(https?|wss?):\/\/.+/.test(raw), "must be an http(s) or ws(s) URL")
  .optional()
  .transform((value) => value ?? null);

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
  TRUST_PROXY: {
    description:
      "Whether the gateway runs behind a reverse proxy or load balancer that sets X-Forwarded-For: the client's address (for sign-in limits) is then its last entry, the address the proxy saw. Leave false when clients connect directly, or they could claim any address.",
    defaultText: "false",
    schema: flag(false),
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
      "Lifetime of a balance hold that nobody extends: a running request extends its hold every third of it, so this is how long a crashed instance's holds last.",
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
  RPC_URL: {
    description:
      "JSON-RPC endpoint of the chain the escrow lives on (e.g. Base Sepolia). Set: the chain watcher and settlement worker run against it. Unset: `shareai start` runs a local Hardhat chain (with the embedded Postgres) or refuses (see docs/local-network.md).",
    schema: rpcUrl,
  },
  ESCROW_ADDRESS: {
    description: "The UsageEscrow to follow and settle on. Unset: the escrow of DEPLOYMENTS_FILE.",
    schema: address,
  },
  ESCROW_DEPLOYMENT_BLOCK: {
    description:
      "Block the escrow was deployed in, where the watcher starts reading, when ESCROW_ADDRESS is set and no deployments file records it (else block 0).",
    schema: optionalInteger(0, Number.MAX_SAFE_INTEGER),
  },
  DEPLOYMENTS_FILE: {
    description: "The record scripts/deploy.ts writes (escrow address and deployment block).",
    defaultText: "deployments/<chainId>.json",
    schema: z
      .string()
      .min(1)
      .optional()
      .transform((value) => value ?? null),
  },
  CHAIN_CONFIRMATIONS: {
    description:
      "Blocks (its own included) before an event is applied and a settlement is final. Default: 2 on chain 31337, 5 elsewhere.",
    schema: optionalInteger(0, 10_000),
  },
  CHAIN_POLL_INTERVAL_MS: {
    description: "Time between chain watcher ticks once caught up. Default: 2000, 500 on the local chain.",
    schema: optionalInteger(1, DAY_MS),
  },
  CHAIN_LOG_BLOCK_RANGE: {
    description: "Widest block range of one eth_getLogs; a range the node refuses is split in halves.",
    defaultText: "2000",
    schema: integer(1, 1_000_000, 2000),
  },
  CHAIN_MAX_REORG_DEPTH: {
    description: "How deep a reorganisation is rolled back to a common block; a deeper one replays from the deployment block.",
    defaultText: "128",
    schema: integer(1, 100_000, 128),
  },
  CHAIN_BLOCK_TIME_MS: {
    description:
      "The chain's expected block time, for the thawing-period check. Default: 2000, 1000 on the local chain (one block a second).",
    schema: optionalInteger(1, DAY_MS),
  },
  SETTLEMENT_SIGNER_KEY: {
    description:
      "Private key that signs vouchers (EIP-712); its address must be an authorised signer of the escrow. Required with RPC_URL. Never logged.",
    schema: privateKey,
  },
  SETTLEMENT_SUBMITTER_KEY: {
    description: "Private key that sends `settle` transactions and pays their gas. Required with RPC_URL. Never logged.",
    schema: privateKey,
  },
  SETTLEMENT_INTERVAL_MS: {
    description:
      "A pair's usage is put in a voucher at the latest this long after its oldest unvouchered request. Default: 900000 (15 min), 15000 on the local chain.",
    schema: optionalInteger(0, 30 * DAY_MS),
  },
  SETTLEMENT_POLL_MS: {
    description: "How often the settlement worker runs. Default: 10000, 3000 on the local chain.",
    schema: optionalInteger(1, DAY_MS),
  },
  SETTLEMENT_THRESHOLD_BASE: {
    description: "A pair whose unsettled usage reaches this many base units is settled at the next tick, before the interval.",
    defaultText: "10000000",
    schema: optionalBigInt(1n),
  },
  SETTLEMENT_BATCH_SIZE: {
    description: "Vouchers per `settle` transaction (at most 100).",
    defaultText: "50",
    schema: optionalInteger(1, 100),
  },
  SETTLEMENT_MAX_BATCHES_PER_TICK: {
    description: "`settle` transactions sent per tick at most.",
    defaultText: "10",
    schema: optionalInteger(1, 10_000),
  },
  SETTLEMENT_TX_TIMEOUT_MS: {
    description: "A `settle` transaction not mined by then is replaced with higher fees (same nonce).",
    defaultText: "120000",
    schema: optionalInteger(1, DAY_MS),
  },
  SETTLEMENT_FEE_BUMP_BPS: {
    description: "Fee increase of a replacement transaction, in basis points (at least 1250: +12.5%).",
    defaultText: "1250",
    schema: optionalInteger(1250, 100_000),
  },
  SETTLEMENT_MAX_FEE_PER_GAS_WEI: {
    description: "Ceiling on the fee per gas of `settle` transactions; a bump past it is refused and reported. Unset: none.",
    schema: optionalBigInt(1n),
  },
  SETTLEMENT_GAS_LIMIT_MARGIN_BPS: {
    description: "Gas limit = estimate plus this margin, in basis points.",
    defaultText: "2000",
    schema: optionalInteger(0, 100_000),
  },
  SETTLEMENT_MAX_RECEIPTS_PER_VOUCHER: {
    description: "Requests in one voucher at most (bounds its Merkle tree in memory); the rest wait for the next voucher.",
    defaultText: "50000",
    schema: optionalInteger(1, 10_000_000),
  },
  LOCAL_CHAIN_PORT: {
    description:
      "Port of the local Hardhat chain `shareai start` runs without RPC_URL; taken: a free port is used instead. 0: always a free port.",
    defaultText: "8545",
    schema: integer(0, 65_535, 8545),
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
  SIGN_IN_ATTEMPTS_PER_MINUTE: {
    description:
      "Sign-in requests (GET /api/auth/nonce, POST /api/auth/verify) one client address may make per minute; more get 429. Shared across instances with REDIS_URL.",
    defaultText: "60",
    schema: integer(1, 100_000, 60),
  },
  PROVIDER_UPSTREAM_ALLOW_PRIVATE: {
    description:
      "Whether providers may register upstreams on loopback, private or link-local addresses from the Provider page. The gateway calls those URLs itself (SSRF): set false in production; true suits a local network.",
    defaultText: "true",
    schema: flag(true),
  },
} satisfies Record<string, ConfigVariable>;

export type ConfigVariableName = keyof typeof CONFIG_VARIABLES;
