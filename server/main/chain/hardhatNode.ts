import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { HDNodeWallet, JsonRpcProvider, type Provider } from "ethers";
import { findFreePort } from "../../persistence/freePort";
import { PACKAGE_ROOT } from "../../packageRoot";

/**
 * A `hardhat node` (Hardhat's in-memory development chain, chain id 31337) in
 * a child process: what `npm start` runs its local network on, and what the
 * tests that need a JSON-RPC chain outside the Hardhat runtime start
 * (test/support/hardhatNode.ts wraps this).
 *
 * Node runs Hardhat's CLI directly, not through npx, so the child is the node
 * itself and stopping it leaves no grandchild behind. The child exits by
 * itself when this process goes away without stopping it (exitWithParent.js),
 * so a SIGKILL of the gateway leaves no orphaned chain.
 */
export interface HardhatNode {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly chainId: bigint;
  readonly pid: number;
  /**
   * A provider for a chain that mines on every transaction: it polls fast (ethers' 4 s default
   * would only add waiting) and caches nothing (ethers' 250 ms result cache hands a second
   * transaction in a row the nonce of the first).
   */
  provider(): JsonRpcProvider;
  /** Hardhat's default account `index` (10,000 ETH each on a fresh node), connected to `provider`. */
  account(index: number, provider?: Provider): HDNodeWallet;
  /** The last lines the node printed (for error messages). */
  output(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the child has exited. Idempotent. */
  stop(): Promise<void>;
}

export interface StartHardhatNodeOptions {
  /** Port to listen on; 0 or unset: a free one. A taken port is an error (see `preferredPort`). */
  port?: number;
  /** Try this port first and fall back to a free one when it is taken (`npm start`: 8545). */
  preferredPort?: number;
  /** How long to wait for the node to answer `eth_chainId`. */
  timeoutMs?: number;
}

/** Hardhat's well-known development mnemonic: the accounts every `hardhat node` funds. Public: never real money. */
export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";
export const HARDHAT_CHAIN_ID = 31337n;

// Hardhat runs in the package root (its hardhat.config.ts); the preload is a plain .js file there, also when this runs bundled.
const REPO_ROOT = PACKAGE_ROOT;
const EXIT_WITH_PARENT = path.join(PACKAGE_ROOT, "server", "main", "chain", "exitWithParent.js");
const POLL_MS = 100;
const FAST_POLLING_MS = 20;
const OUTPUT_TAIL_CHARS = 4_000;
const STOP_GRACE_MS = 5_000;

/** Hardhat's default account `index`, derived from the development mnemonic. */
export function hardhatAccount(index: number, provider?: Provider | null): HDNodeWallet {
  return HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).connect(provider ?? null);
}

export async function startHardhatNode(options: StartHardhatNodeOptions = {}): Promise<HardhatNode> {
  const port = await choosePort(options);
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [
      "--require",
      EXIT_WITH_PARENT,
      require.resolve("hardhat/internal/cli/bootstrap.js"),
      "node",
      "--hostname",
      "127.0.0.1",
      "--port",
      String(port),
    ],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        HARDHAT_DISABLE_TELEMETRY_PROMPT: "true",
        SHAREAI_PARENT_PID: String(process.pid),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output = tailOf(child);
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      process.removeListener("exit", killOnExit);
      await stopChild(child);
    })();
    return stopping;
  };
  let chainId: bigint;
  try {
    chainId = await waitForChainId(url, child, options.timeoutMs ?? 60_000);
  } catch (error) {
    await stop();
    throw new Error(`hardhat node did not start on ${url}: ${(error as Error).message}\n${output()}`);
  }
  if (chainId !== HARDHAT_CHAIN_ID) {
    await stop();
    throw new Error(`hardhat node on ${url} serves chain ${chainId}, expected ${HARDHAT_CHAIN_ID}`);
  }

  return {
    url,
    port,
    chainId,
    pid: child.pid!,
    provider: () => new JsonRpcProvider(url, undefined, { pollingInterval: FAST_POLLING_MS, cacheTimeout: -1 }),
    account: (index, provider) => hardhatAccount(index, provider),
    output,
    stop,
  };
}

async function choosePort(options: StartHardhatNodeOptions): Promise<number> {
  if (options.port) return options.port;
  if (options.preferredPort && (await isFree(options.preferredPort))) return options.preferredPort;
  return findFreePort();
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.unref();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/** Keeps reading the child's output (a full pipe would stall the node) and remembers its tail for errors. */
function tailOf(child: ChildProcess): () => string {
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return () => tail;
}

async function waitForChainId(url: string, child: ChildProcess, timeoutMs: number): Promise<bigint> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`it exited (${child.exitCode ?? child.signalCode})`);
    }
    const chainId = await answeredChainId(url);
    if (chainId !== null) return chainId;
    await new Promise((wake) => setTimeout(wake, POLL_MS));
  }
  throw new Error(`no answer to eth_chainId within ${timeoutMs} ms`);
}

async function answeredChainId(url: string): Promise<bigint | null> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    });
    const body = (await response.json()) as { result?: string };
    return typeof body.result === "string" ? BigInt(body.result) : null;
  } catch {
    return null; // not listening yet
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}
