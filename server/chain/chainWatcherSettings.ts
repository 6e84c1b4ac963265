import { getAddress } from "ethers";
import { z } from "zod";
import { readRecord, recordPath } from "../../scripts/lib/deploymentRecord";
import { DEFAULT_LOG_BLOCK_RANGE } from "./chainReader";

/**
 * The chain watcher's environment. The config owner maps these into
 * server/config; `chainWatcherEnvFrom` parses them the same way meanwhile.
 * RPC_URL, ESCROW_ADDRESS, DEPLOYMENTS_FILE and CHAIN_CONFIRMATIONS mean the
 * same as for the settlement worker.
 */
export interface ChainWatcherEnv {
  rpcUrl: string;
  /** The escrow; when unset, the deployments file's escrow. */
  escrowAddress: string | null;
  /** Where to start reading with ESCROW_ADDRESS when no deployments file records it. */
  escrowDeploymentBlock: number | null;
  /** `deployments/<chainId>.json` as scripts/deploy.ts writes it; default: that path for the RPC's chain. */
  deploymentsFile: string | null;
  /** null: `defaultConfirmations(chainId)`. */
  confirmations: number | null;
  pollIntervalMs: number;
  logBlockRange: number;
  maxReorgDepth: number;
}

export const DEFAULT_RPC_URL = "http://127.0.0.1:8545";
export const DEFAULT_CHAIN_POLL_INTERVAL_MS = 2_000;
export const DEFAULT_CHAIN_MAX_REORG_DEPTH = 128;
const LOCAL_CHAIN_ID = 31337n;

/**
 * A local Hardhat chain only reorganises when a test tells it to: 2. Elsewhere
 * 5, the settlement worker's default; on an L2 such as Base that is about ten
 * seconds, far below any thawing period.
 */
export function defaultConfirmations(chainId: bigint): number {
  return chainId === LOCAL_CHAIN_ID ? 2 : 5;
}

export class ChainWatcherConfigError extends Error {
  override name = "ChainWatcherConfigError";
}

const whole = (min: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(Number.MAX_SAFE_INTEGER));

const EnvSchema = z.object({
  RPC_URL: z
    .string()
    .refine((raw) => /^(https?|wss?):\/\/.+/.test(raw), "must be an http(s) or ws(s) URL")
    .default(DEFAULT_RPC_URL),
  ESCROW_ADDRESS: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, "must be an address")
    .optional(),
  ESCROW_DEPLOYMENT_BLOCK: whole(0).optional(),
  DEPLOYMENTS_FILE: z.string().min(1).optional(),
  CHAIN_CONFIRMATIONS: whole(0).optional(),
  CHAIN_POLL_INTERVAL_MS: whole(1).default(DEFAULT_CHAIN_POLL_INTERVAL_MS),
  CHAIN_LOG_BLOCK_RANGE: whole(1).default(DEFAULT_LOG_BLOCK_RANGE),
  CHAIN_MAX_REORG_DEPTH: whole(1).default(DEFAULT_CHAIN_MAX_REORG_DEPTH),
});

/** Reads the watcher's variables; empty strings count as unset. Errors name every bad variable. */
export function chainWatcherEnvFrom(env: NodeJS.ProcessEnv = process.env): ChainWatcherEnv {
  const present = Object.fromEntries(
    Object.keys(EnvSchema.shape).flatMap((name) => (env[name]?.trim() ? [[name, env[name]!.trim()]] : [])),
  );
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`);
    throw new ChainWatcherConfigError(`chain watcher configuration: ${lines.join("; ")}`);
  }
  const e = parsed.data;
  return {
    rpcUrl: e.RPC_URL,
    escrowAddress: e.ESCROW_ADDRESS ? getAddress(e.ESCROW_ADDRESS) : null,
    escrowDeploymentBlock: e.ESCROW_DEPLOYMENT_BLOCK ?? null,
    deploymentsFile: e.DEPLOYMENTS_FILE ?? null,
    confirmations: e.CHAIN_CONFIRMATIONS ?? null,
    pollIntervalMs: e.CHAIN_POLL_INTERVAL_MS,
    logBlockRange: e.CHAIN_LOG_BLOCK_RANGE,
    maxReorgDepth: e.CHAIN_MAX_REORG_DEPTH,
  };
}

export interface EscrowLocation {
  address: string;
  deploymentBlock: number;
  /** Where the address and block came from, for the startup log. */
  source: string;
}

/**
 * The escrow to follow on chain `chainId` and the block its history starts at:
 * ESCROW_ADDRESS (its block from ESCROW_DEPLOYMENT_BLOCK, or from the
 * deployments file when that records the same escrow, else block 0), or the
 * deployments file's escrow.
 */
export function locateEscrow(
  env: Pick<ChainWatcherEnv, "escrowAddress" | "escrowDeploymentBlock" | "deploymentsFile">,
  chainId: bigint,
  deploymentsDir = "deployments",
): EscrowLocation {
  const file = env.deploymentsFile ?? recordPath(deploymentsDir, chainId);
  const record = readRecord(file);
  if (record && BigInt(record.chainId) !== chainId) {
    throw new ChainWatcherConfigError(`${file} is for chain ${record.chainId}, but RPC_URL serves chain ${chainId}`);
  }
  if (env.escrowAddress) {
    const address = getAddress(env.escrowAddress);
    if (env.escrowDeploymentBlock !== null) {
      return { address, deploymentBlock: env.escrowDeploymentBlock, source: "ESCROW_ADDRESS, ESCROW_DEPLOYMENT_BLOCK" };
    }
    if (record && getAddress(record.escrow.address) === address) {
      return { address, deploymentBlock: record.escrow.blockNumber, source: `ESCROW_ADDRESS, block from ${file}` };
    }
    return { address, deploymentBlock: 0, source: "ESCROW_ADDRESS (no deployment block known: reading from block 0)" };
  }
  if (!record) {
    throw new ChainWatcherConfigError(
      `no escrow to follow on chain ${chainId}: set ESCROW_ADDRESS, or DEPLOYMENTS_FILE (${file} does not exist)`,
    );
  }
  return { address: getAddress(record.escrow.address), deploymentBlock: record.escrow.blockNumber, source: file };
}
