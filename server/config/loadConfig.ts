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
  /** The web API's settings (sign-in). */
  web: {
    chainId: number;
    sessionTtlMs: number;
    nonceTtlMs: number;
    signInAttemptsPerMinute: number;
    providerUpstreamAllowPrivate: boolean;
  };
  /** Behind a reverse proxy: client addresses come from X-Forwarded-For. */
  trustProxy: boolean;
  /** The escrow's chain: what the chain watcher and the settlement worker read. */
  chain: ChainConfig;
  /** The settlement worker's keys and the settings given (unset ones take the worker's or the local network's defaults). */
  settlement: SettlementConfig;
}

export interface ChainConfig {
  /** RPC_URL; null: no chain named (the local network starts one, or the gateway runs without). */
  rpcUrl: string | null;
  escrowAddress: string | null;
  escrowDeploymentBlock: number | null;
  deploymentsFile: string | null;
  /** null: 2 on chain 31337, else 5. */
  confirmations: number | null;
  /** null: 2000 ms (500 ms on the local chain). */
  pollIntervalMs: number | null;
  logBlockRange: number;
  maxReorgDepth: number;
  /** null: 2000 ms (1000 ms on the local chain). */
  blockTimeMs: number | null;
  /** Port of the local Hardhat chain (tried first; a free one when taken). */
  localChainPort: number;
}

export interface SettlementConfig {
  signerKey: string | null;
  submitterKey: string | null;
  /** Only what was set; null: the default. */
  intervalMs: number | null;
  pollMs: number | null;
  thresholdBase: bigint | null;
  batchSize: number | null;
  maxBatchesPerTick: number | null;
  txTimeoutMs: number | null;
  feeBumpBps: number | null;
  maxFeePerGasWei: bigint | null;
  gasLimitMarginBps: number | null;
  maxReceiptsPerVoucher: number | null;
}

/** Variables whose value must not be echoed in an error (credentials). */
const SECRET_VARIABLES = new Set<ConfigVariableName>([
  "DATABASE_URL",
  "REDIS_URL",
  "UPSTREAM_KEY_ENCRYPTION_KEY",
  // A hosted RPC URL often carries an API key in its path.
  "RPC_URL",
  "SETTLEMENT_SIGNER_KEY",
  "SETTLEMENT_SUBMITTER_KEY",
]);

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
    web: {
      chainId: v.CHAIN_ID,
      sessionTtlMs: v.SESSION_TTL_MS,
      nonceTtlMs: v.SIWE_NONCE_TTL_MS,
      signInAttemptsPerMinute: v.SIGN_IN_ATTEMPTS_PER_MINUTE,
      providerUpstreamAllowPrivate: v.PROVIDER_UPSTREAM_ALLOW_PRIVATE,
    },
    trustProxy: v.TRUST_PROXY,
    chain: {
      rpcUrl: v.RPC_URL,
      escrowAddress: v.ESCROW_ADDRESS,
      escrowDeploymentBlock: v.ESCROW_DEPLOYMENT_BLOCK,
      deploymentsFile: v.DEPLOYMENTS_FILE,
      confirmations: v.CHAIN_CONFIRMATIONS,
      pollIntervalMs: v.CHAIN_POLL_INTERVAL_MS,
      logBlockRange: v.CHAIN_LOG_BLOCK_RANGE,
      maxReorgDepth: v.CHAIN_MAX_REORG_DEPTH,
      blockTimeMs: v.CHAIN_BLOCK_TIME_MS,
      localChainPort: v.LOCAL_CHAIN_PORT,
    },
    settlement: {
      signerKey: v.SETTLEMENT_SIGNER_KEY,
      submitterKey: v.SETTLEMENT_SUBMITTER_KEY,
      intervalMs: v.SETTLEMENT_INTERVAL_MS,
      pollMs: v.SETTLEMENT_POLL_MS,
      thresholdBase: v.SETTLEMENT_THRESHOLD_BASE,
      batchSize: v.SETTLEMENT_BATCH_SIZE,
      maxBatchesPerTick: v.SETTLEMENT_MAX_BATCHES_PER_TICK,
      txTimeoutMs: v.SETTLEMENT_TX_TIMEOUT_MS,
      feeBumpBps: v.SETTLEMENT_FEE_BUMP_BPS,
      maxFeePerGasWei: v.SETTLEMENT_MAX_FEE_PER_GAS_WEI,
      gasLimitMarginBps: v.SETTLEMENT_GAS_LIMIT_MARGIN_BPS,
      maxReceiptsPerVoucher: v.SETTLEMENT_MAX_RECEIPTS_PER_VOUCHER,
    },
  };
}
