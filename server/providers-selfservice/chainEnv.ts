import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { getAddress, JsonRpcProvider, Wallet } from "ethers";
import { chainWatcherEnvFrom, locateEscrow } from "../chain/chainWatcherSettings";
import { CliError } from "../cli/io";

/**
 * The chain as the self-service commands reach it, from the same variables as the gateway's chain
 * watcher and settlement worker: RPC_URL (default http://127.0.0.1:8545), and the escrow from
 * ESCROW_ADDRESS or the deployments file (DEPLOYMENTS_FILE, else deployments/<chainId>.json).
 * Keys come only from an environment variable the caller names, never from the command line.
 */
export interface ChainAccess {
  provider: JsonRpcProvider;
  rpcUrl: string;
  chainId: bigint;
  /** The escrow, checksummed; null when neither ESCROW_ADDRESS nor a deployments file names one. */
  escrowAddress: string | null;
  /** Where the escrow's history starts (0 when unknown). */
  deploymentBlock: number;
  /** Where the escrow address came from, for messages. */
  escrowSource: string | null;
  close(): void;
}

export async function chainFromEnv(env: NodeJS.ProcessEnv, deploymentsDir = "deployments"): Promise<ChainAccess> {
  const parsed = chainWatcherEnvFrom(withLocalNetwork(env));
  const provider = new JsonRpcProvider(parsed.rpcUrl, undefined, { cacheTimeout: -1, pollingInterval: 250 });
  let chainId: bigint;
  try {
    chainId = (await provider.getNetwork()).chainId;
  } catch (error) {
    provider.destroy();
    throw new CliError(`cannot reach the chain at RPC_URL ${parsed.rpcUrl}: ${(error as Error).message}`);
  }
  let escrowAddress: string | null = null;
  let deploymentBlock = 0;
  let escrowSource: string | null = null;
  try {
    const located = locateEscrow(parsed, chainId, deploymentsDir);
    escrowAddress = located.address;
    deploymentBlock = located.deploymentBlock;
    escrowSource = located.source;
  } catch (error) {
    // No escrow configured: callers that need one say so (with `requireEscrow`).
    if (!/no escrow to follow/.test((error as Error).message)) {
      provider.destroy();
      throw new CliError((error as Error).message);
    }
  }
  return {
    provider,
    rpcUrl: parsed.rpcUrl,
    chainId,
    escrowAddress,
    deploymentBlock,
    escrowSource,
    close: () => provider.destroy(),
  };
}

/**
 * Without RPC_URL, the local network a running `shareai start` describes in
 * `<PG_DATA_DIR's parent>/local-chain/network.json` (its chain is on a port of its own, and its
 * deployments file outside ./deployments): its RPC URL and deployments file, unless set.
 */
export function withLocalNetwork(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env.RPC_URL?.trim()) return env;
  const dataDir = env.PG_DATA_DIR?.trim() || ".data/postgres";
  const file = path.join(path.dirname(path.resolve(dataDir)), "local-chain", "network.json");
  if (!existsSync(file)) return env;
  try {
    const network = JSON.parse(readFileSync(file, "utf8")) as { rpcUrl?: string; deploymentsFile?: string; pid?: number };
    if (typeof network.pid === "number" && !isAlive(network.pid)) return env;
    if (typeof network.rpcUrl !== "string") return env;
    return {
      ...env,
      RPC_URL: network.rpcUrl,
      ...(env.ESCROW_ADDRESS?.trim() || env.DEPLOYMENTS_FILE?.trim() || typeof network.deploymentsFile !== "string"
        ? {}
        : { DEPLOYMENTS_FILE: network.deploymentsFile }),
    };
  } catch {
    return env;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The configured escrow, or a one-line error saying how to configure it. */
export function requireEscrow(chain: ChainAccess): string {
  if (!chain.escrowAddress) {
    throw new CliError(
      `no escrow configured for chain ${chain.chainId}: set ESCROW_ADDRESS, or DEPLOYMENTS_FILE (or run from the directory holding deployments/${chain.chainId}.json)`,
    );
  }
  return chain.escrowAddress;
}

const KEY_SHAPE = /^(0x)?[0-9a-fA-F]{64}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A wallet from the private key in the environment variable `name`, connected to `chain`. The key
 * is never printed: errors name the variable, not its value.
 */
export function walletFromEnv(env: NodeJS.ProcessEnv, name: string, chain: ChainAccess): Wallet {
  if (KEY_SHAPE.test(name) || !ENV_NAME.test(name)) {
    throw new CliError("--key-env takes the NAME of an environment variable holding the key; never put a key on the command line");
  }
  const raw = env[name]?.trim();
  if (!raw) throw new CliError(`the environment variable ${name} is not set: put the private key there`);
  if (!KEY_SHAPE.test(raw)) throw new CliError(`${name} does not hold a private key (32 bytes of hex)`);
  return new Wallet(raw.startsWith("0x") ? raw : `0x${raw}`, chain.provider);
}

export function checksummed(address: string): string {
  return getAddress(address);
}
