import { z } from "zod";

/** How the settlement worker paces and prices its work. Every field has a default. */
export interface SettlementSettings {
  /** A pair's usage is put in a voucher at the latest this long after its oldest receipt. */
  intervalMs: number;
  /** How often the loop runs (watch transactions, build what is due, submit). */
  pollMs: number;
  /** A pair whose unsettled increment reaches this many base units is settled at the next tick. */
  thresholdBase: bigint;
  /** Vouchers per `settle` transaction (the escrow's batch; at most 100). */
  batchSize: number;
  /** `settle` transactions sent per tick at most. */
  maxBatchesPerTick: number;
  /** Blocks on top of a transaction's (itself included) before it is final. */
  confirmations: number;
  /** The chain's expected block time, for the thawing-period check. */
  blockTimeMs: number;
  /** A transaction not mined this long after it was sent is replaced with higher fees. */
  txTimeoutMs: number;
  /** Fee increase of a replacement, in basis points of the previous fees (at least 1250: +12.5%). */
  feeBumpBps: number;
  /** Never offer more than this per gas (wei); null: no ceiling. */
  maxFeePerGasWei: bigint | null;
  /** Gas limit = estimate × (1 + margin), in basis points. */
  gasLimitMarginBps: number;
  /** Receipts in one voucher at most (bounds memory; the rest go in the next voucher). */
  maxReceiptsPerVoucher: number;
}

/** The escrow's `settle` takes up to this many vouchers in one transaction. */
export const MAX_BATCH_SIZE = 100;
/** Replacement transactions must pay at least 12.5% more (geth's txpool asks 10%; some nodes more). */
export const MIN_FEE_BUMP_BPS = 1250;

export const DEFAULT_SETTLEMENT_SETTINGS: SettlementSettings = {
  intervalMs: 15 * 60_000,
  pollMs: 10_000,
  thresholdBase: 10_000_000n,
  batchSize: 50,
  maxBatchesPerTick: 10,
  confirmations: 5,
  blockTimeMs: 2_000,
  txTimeoutMs: 120_000,
  feeBumpBps: MIN_FEE_BUMP_BPS,
  maxFeePerGasWei: null,
  gasLimitMarginBps: 2_000,
  maxReceiptsPerVoucher: 50_000,
};

/** A setting that cannot work, said plainly; the worker refuses to start with it. */
export class SettlementConfigError extends Error {
  override name = "SettlementConfigError";
}

/** `partial` over the defaults, checked. */
export function resolveSettlementSettings(partial: Partial<SettlementSettings> = {}): SettlementSettings {
  const settings = { ...DEFAULT_SETTLEMENT_SETTINGS, ...definedOnly(partial) };
  const problems: string[] = [];
  const whole = (name: keyof SettlementSettings, value: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}, got ${value}`);
    }
  };
  whole("intervalMs", settings.intervalMs, 0);
  whole("pollMs", settings.pollMs, 1);
  whole("batchSize", settings.batchSize, 1, MAX_BATCH_SIZE);
  whole("maxBatchesPerTick", settings.maxBatchesPerTick, 1);
  whole("confirmations", settings.confirmations, 1);
  whole("blockTimeMs", settings.blockTimeMs, 1);
  whole("txTimeoutMs", settings.txTimeoutMs, 1);
  whole("feeBumpBps", settings.feeBumpBps, MIN_FEE_BUMP_BPS, 100_000);
  whole("gasLimitMarginBps", settings.gasLimitMarginBps, 0, 100_000);
  whole("maxReceiptsPerVoucher", settings.maxReceiptsPerVoucher, 1);
  if (settings.thresholdBase < 1n) problems.push(`thresholdBase must be at least 1, got ${settings.thresholdBase}`);
  if (settings.maxFeePerGasWei !== null && settings.maxFeePerGasWei < 1n) {
    problems.push(`maxFeePerGasWei must be positive, got ${settings.maxFeePerGasWei}`);
  }
  if (problems.length) throw new SettlementConfigError(`invalid settlement settings: ${problems.join("; ")}`);
  return settings;
}

/**
 * The escrow's thawing period must outlast the longest a metered request can wait before its
 * voucher is final on chain: the build interval, one poll, and the confirmations. Otherwise a
 * user could request a withdrawal right after a request and withdraw before it is settled.
 */
export function checkThawingPeriod(thawingPeriodSeconds: bigint, settings: SettlementSettings): void {
  const exposureMs =
    BigInt(settings.intervalMs) +
    BigInt(settings.pollMs) +
    BigInt(settings.confirmations) * BigInt(settings.blockTimeMs);
  const thawingMs = thawingPeriodSeconds * 1000n;
  if (thawingMs <= exposureMs) {
    throw new SettlementConfigError(
      `refusing to start: the escrow's thawing period (${thawingPeriodSeconds} s) must be longer than the ` +
        `settlement interval (SETTLEMENT_INTERVAL_MS=${settings.intervalMs}) + one poll (SETTLEMENT_POLL_MS=${settings.pollMs}) ` +
        `+ CHAIN_CONFIRMATIONS (${settings.confirmations}) × CHAIN_BLOCK_TIME_MS (${settings.blockTimeMs}) = ${exposureMs} ms; ` +
        "otherwise a user could withdraw before their usage is settled. Lower the interval or the confirmations, " +
        "or deploy an escrow with a longer thawing period.",
    );
  }
}

function definedOnly<T extends object>(partial: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined)) as Partial<T>;
}

// ---------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------

/** What the settlement worker reads from the environment (the config owner maps these). */
export interface SettlementEnv {
  /** Default http://127.0.0.1:8545, as for the chain watcher. */
  rpcUrl: string;
  /** The escrow's address; when unset, the deployments file's escrow. */
  escrowAddress: string | null;
  /** `deployments/<chainId>.json` as scripts/deploy.ts writes it; default: that path for the RPC's chain. */
  deploymentsFile: string | null;
  /** Signs vouchers (EIP-712). Never logged. */
  signerKey: string;
  /** Pays gas for `settle`. Never logged. */
  submitterKey: string;
  /** CHAIN_CONFIRMATIONS; null: the chain watcher's default for the chain (2 on a local chain, else 5). */
  confirmations: number | null;
  /** Every setting but the confirmations, checked. */
  settings: Omit<SettlementSettings, "confirmations">;
}

const privateKey = (name: string) =>
  z
    .string({ error: `${name} is required` })
    .regex(/^(0x)?[0-9a-fA-F]{64}$/, `${name} must be a 32-byte private key as 64 hex digits`)
    .transform((value) => (value.startsWith("0x") ? value : `0x${value}`));

const wholeNumber = z.string().regex(/^\d+$/, "must be a whole number").transform(Number).optional();
const bigNumber = z.string().regex(/^\d+$/, "must be a whole number").transform(BigInt).optional();

const EnvSchema = z.object({
  RPC_URL: z
    .string()
    .refine((raw) => /^(https?|wss?):\/\/.+/.test(raw), "must be an http(s) or ws(s) URL")
    .default("http://127.0.0.1:8545"),
  ESCROW_ADDRESS: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, "must be an address")
    .optional(),
  DEPLOYMENTS_FILE: z.string().min(1).optional(),
  SETTLEMENT_SIGNER_KEY: privateKey("SETTLEMENT_SIGNER_KEY"),
  SETTLEMENT_SUBMITTER_KEY: privateKey("SETTLEMENT_SUBMITTER_KEY"),
  SETTLEMENT_INTERVAL_MS: wholeNumber,
  SETTLEMENT_POLL_MS: wholeNumber,
  SETTLEMENT_THRESHOLD_BASE: bigNumber,
  SETTLEMENT_BATCH_SIZE: wholeNumber,
  SETTLEMENT_MAX_BATCHES_PER_TICK: wholeNumber,
  CHAIN_CONFIRMATIONS: wholeNumber,
  CHAIN_BLOCK_TIME_MS: wholeNumber,
  SETTLEMENT_TX_TIMEOUT_MS: wholeNumber,
  SETTLEMENT_FEE_BUMP_BPS: wholeNumber,
  SETTLEMENT_MAX_FEE_PER_GAS_WEI: bigNumber,
  SETTLEMENT_GAS_LIMIT_MARGIN_BPS: wholeNumber,
  SETTLEMENT_MAX_RECEIPTS_PER_VOUCHER: wholeNumber,
});

/**
 * Reads the settlement worker's variables. Errors name the variable and never echo a value (a
 * key's, least of all). Empty strings count as unset.
 */
export function settlementEnvFrom(env: NodeJS.ProcessEnv = process.env): SettlementEnv {
  const present = Object.fromEntries(
    Object.keys(EnvSchema.shape).flatMap((name) => (env[name]?.trim() ? [[name, env[name]!.trim()]] : [])),
  );
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.join(".") || "env"}: ${issue.message}`);
    throw new SettlementConfigError(`settlement worker configuration: ${lines.join("; ")}`);
  }
  const e = parsed.data;
  const { confirmations: _ignored, ...settings } = resolveSettlementSettings({
    intervalMs: e.SETTLEMENT_INTERVAL_MS,
    pollMs: e.SETTLEMENT_POLL_MS,
    thresholdBase: e.SETTLEMENT_THRESHOLD_BASE,
    batchSize: e.SETTLEMENT_BATCH_SIZE,
    maxBatchesPerTick: e.SETTLEMENT_MAX_BATCHES_PER_TICK,
    confirmations: e.CHAIN_CONFIRMATIONS,
    blockTimeMs: e.CHAIN_BLOCK_TIME_MS,
    txTimeoutMs: e.SETTLEMENT_TX_TIMEOUT_MS,
    feeBumpBps: e.SETTLEMENT_FEE_BUMP_BPS,
    maxFeePerGasWei: e.SETTLEMENT_MAX_FEE_PER_GAS_WEI,
    gasLimitMarginBps: e.SETTLEMENT_GAS_LIMIT_MARGIN_BPS,
    maxReceiptsPerVoucher: e.SETTLEMENT_MAX_RECEIPTS_PER_VOUCHER,
  });
  return {
    rpcUrl: e.RPC_URL,
    escrowAddress: e.ESCROW_ADDRESS ?? null,
    deploymentsFile: e.DEPLOYMENTS_FILE ?? null,
    signerKey: e.SETTLEMENT_SIGNER_KEY,
    submitterKey: e.SETTLEMENT_SUBMITTER_KEY,
    confirmations: e.CHAIN_CONFIRMATIONS ?? null,
    settings,
  };
}
