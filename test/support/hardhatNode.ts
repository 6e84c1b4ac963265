import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { HDNodeWallet, JsonRpcProvider, type Provider } from "ethers";

/**
 * A `hardhat node` in a child process, for tests that need a real JSON-RPC chain outside the
 * Hardhat runtime (the gateway, the CLI, end-to-end tests). Start it in `before`, stop it in `after`.
 */
export interface HardhatNode {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /**
   * A provider for a chain that mines on every transaction: it polls fast (ethers' 4 s default
   * would only add waiting) and caches nothing (ethers' 250 ms result cache hands a second
   * transaction in a row the nonce of the first).
   */
  provider(): JsonRpcProvider;
  /** Hardhat's default account `index` (10,000 ETH each), connected to `provider`. */
  account(index: number, provider?: Provider): HDNodeWallet;
  stop(): Promise<void>;
}

export interface StartHardhatNodeOptions {
  /** How long to wait for the node to answer `eth_chainId`. */
  timeoutMs?: number;
}

/** Hardhat's well-known development mnemonic: the accounts every `hardhat node` funds. */
export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";

const REPO_ROOT = resolve(__dirname, "../..");
const POLL_MS = 100;
const FAST_POLLING_MS = 20;
const OUTPUT_TAIL_CHARS = 4_000;
const STOP_GRACE_MS = 5_000;

export async function startHardhatNode(options: StartHardhatNodeOptions = {}): Promise<HardhatNode> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Node runs Hardhat's CLI directly (not through npx) so that the child is the node itself and
  // stopping it leaves no grandchild behind.
  const child = spawn(
    process.execPath,
    [require.resolve("hardhat/internal/cli/bootstrap.js"), "node", "--hostname", "127.0.0.1", "--port", String(port)],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output = tailOf(child);
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  const stop = async () => {
    process.removeListener("exit", killOnExit);
    await stopChild(child);
  };
  try {
    await waitForChainId(url, child, options.timeoutMs ?? 60_000);
  } catch (error) {
    await stop();
    throw new Error(`hardhat node did not start on ${url}: ${(error as Error).message}\n${output()}`);
  }

  return {
    url,
    port,
    provider: () => new JsonRpcProvider(url, undefined, { pollingInterval: FAST_POLLING_MS, cacheTimeout: -1 }),
    account: (index, provider) =>
      HDNodeWallet.fromPhrase(HARDHAT_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`).connect(provider ?? null),
    stop,
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1 (Hardhat cannot be told to pick one itself). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
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

async function waitForChainId(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`it exited (${child.exitCode ?? child.signalCode})`);
    }
    if (await answersChainId(url)) return;
    await new Promise((wake) => setTimeout(wake, POLL_MS));
  }
  throw new Error(`no answer to eth_chainId within ${timeoutMs} ms`);
}

async function answersChainId(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    });
    const body = (await response.json()) as { result?: string };
    return typeof body.result === "string";
  } catch {
    return false; // not listening yet
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
