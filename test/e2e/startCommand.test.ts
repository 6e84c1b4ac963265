import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { JsonRpcProvider } from "ethers";
import OpenAI from "openai";
import { UsageEscrow__factory } from "../../typechain-types";
import { bundleServer } from "../../scripts/lib/bundleServer";
import { startScriptNodeFlags } from "../../scripts/lib/startScript";
import { createTestDatabase } from "../support/database";

/**
 * `npm start` as a user runs it: package.json's `start` command (the production bundle, built here
 * as `npm run build:server` builds it, with the node flags the script gives) with no DATABASE_URL and no RPC_URL,
 * in a fresh data folder. It must bring the local chain up, print its RPC URL and a demo key that
 * the official SDK can use, and on SIGINT exit 0 leaving no chain and no Postgres behind.
 */
const ROOT = path.resolve(__dirname, "../..");
const BUNDLE = path.join(ROOT, "dist", "shareai.cjs");
/** The node flags npm start runs the server with (package.json's start script). */
const START_NODE_FLAGS = startScriptNodeFlags();
const STARTUP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

interface Started {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function cliEnv(dataDir: string, more: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: "0",
    PG_DATA_DIR: path.join(dataDir, "postgres"),
    LOCAL_CHAIN_PORT: "0",
    LOG_LEVEL: "warn",
    ...more,
  };
  for (const name of ["DATABASE_URL", "REDIS_URL", "RPC_URL", "ESCROW_ADDRESS", "DEPLOYMENTS_FILE"]) {
    if (!(name in more)) delete env[name];
  }
  return env;
}

function spawnStart(env: NodeJS.ProcessEnv, argv: string[] = []): Started {
  const child = spawn(process.execPath, [...START_NODE_FLAGS, BUNDLE, "start", ...argv], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited };
}

async function banner(started: Started): Promise<Record<string, string>> {
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const text = started.output();
    if (text.includes("Press Ctrl-C to stop.")) {
      const field = (label: string) => new RegExp(`^\\s*${label}\\s+(\\S+)`, "m").exec(text)?.[1] ?? "";
      return {
        url: field("Base URL"),
        rpcUrl: field("RPC URL"),
        escrow: field("Escrow"),
        token: field("USDC token"),
        account: field("Account"),
        apiKey: field("API key"),
      };
    }
    if (started.child.exitCode !== null || Date.now() > deadline) {
      started.child.kill("SIGKILL");
      throw new Error(`shareai start did not print its banner:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Processes whose command line contains `needle` (ps, POSIX). */
function processesMatching(needle: string): string[] {
  const lines = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" }).split("\n");
  return lines.filter((line) => line.includes(needle) && !line.includes("ps -eo"));
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitUntil(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("npm start (shareai start), as a process", function () {
  this.timeout(90_000);
  let dataDir: string;

  before(() => bundleServer({ entry: "server/cli/bin.ts", outfile: BUNDLE }));

  beforeEach(() => {
    // Not mkdtemp: its 0700 folder is closed to the postgres user initdb may run as.
    dataDir = path.join(os.tmpdir(), `shareai-start-e2e-${process.pid}-${randomBytes(4).toString("hex")}`);
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it("brings the local network up, prints the RPC URL and a funded demo key that works with the SDK, and exits 0 on SIGINT leaving no child", async () => {
    const started = spawnStart(cliEnv(dataDir));
    try {
      const printed = await banner(started);
      expect(printed.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      expect(printed.rpcUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(printed.apiKey).to.match(/^sk-shareai-/);

      // The chain is there, and the demo account's deposit is on it.
      const provider = new JsonRpcProvider(printed.rpcUrl, undefined, { cacheTimeout: -1 });
      try {
        expect((await provider.getNetwork()).chainId).to.equal(31337n);
        const [available] = await UsageEscrow__factory.connect(printed.escrow, provider).balanceOf(printed.account);
        expect(available).to.equal(10_000_000n);
      } finally {
        provider.destroy();
      }

      const client = new OpenAI({ baseURL: printed.url, apiKey: printed.apiKey, maxRetries: 0 });
      const reply = await client.chat.completions.create({
        model: "shareai-demo/echo",
        messages: [{ role: "user", content: "Hello, ShareAI!" }],
      });
      expect(reply.choices[0].message.content).to.equal("You said: Hello, ShareAI!");

      const port = new URL(printed.rpcUrl).port;
      expect(processesMatching(`--port ${port}`), "the hardhat node runs").to.have.length(1);
      expect(processesMatching(dataDir), "the embedded Postgres runs").to.not.be.empty;

      started.child.kill("SIGINT");
      const { code } = await within(started.exited, STOP_TIMEOUT_MS, "stopping after SIGINT");
      expect(code, started.output()).to.equal(0);
      await waitUntil(() => processesMatching(`--port ${port}`).length === 0, 5_000, "the hardhat node is gone");
      await waitUntil(() => processesMatching(dataDir).length === 0, 5_000, "the embedded Postgres is gone");
      expect(started.output()).to.not.match(/"level":50/);
    } finally {
      started.child.kill("SIGKILL");
    }
  });

  it("when the server is killed outright (SIGKILL), its chain exits by itself", async () => {
    const started = spawnStart(cliEnv(dataDir), []);
    try {
      const printed = await banner(started);
      const port = new URL(printed.rpcUrl).port;
      const [chainLine] = processesMatching(`--port ${port}`);
      expect(chainLine).to.be.a("string");
      // The supervisor's child (`start --in-process`) is the server; SIGKILL it, not the supervisor.
      const [serverLine] = processesMatching(`${BUNDLE} start --in-process`).filter((line) => line.includes(BUNDLE));
      const serverPid = Number(serverLine.trim().split(/\s+/)[0]);
      process.kill(serverPid, "SIGKILL");
      await waitUntil(() => processesMatching(`--port ${port}`).length === 0, 5_000, "the hardhat node exits");
      await within(started.exited, STOP_TIMEOUT_MS, "the supervisor exits");
    } finally {
      started.child.kill("SIGKILL");
      // The embedded Postgres of a SIGKILLed server stops when its next start takes it over; stop it here.
      for (const line of processesMatching(path.join(dataDir, "postgres"))) {
        const pid = Number(line.trim().split(/\s+/)[0]);
        if (line.includes("bin/postgres")) process.kill(pid, "SIGTERM");
      }
      await waitUntil(() => processesMatching(dataDir).length === 0, 10_000, "the orphaned Postgres stops");
    }
  });

  it("refuses DATABASE_URL without RPC_URL unless told --local-chain or --no-chain", async () => {
    const testDatabase = await createTestDatabase();
    try {
      const started = spawnStart(cliEnv(dataDir, { DATABASE_URL: testDatabase.url }));
      const { code } = await within(started.exited, 30_000, "refusing");
      expect(code).to.equal(1);
      expect(started.output()).to.match(/error: DATABASE_URL is set but RPC_URL is not/);
      expect(started.output()).to.include("--local-chain");
      expect(started.output()).to.include("--no-chain");
    } finally {
      await testDatabase.drop();
    }
  });
});
