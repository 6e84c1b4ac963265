import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import OpenAI from "openai";
import { createTestDatabase } from "../../support/database";

/**
 * `shareai start` as a user runs it: a real process, no DATABASE_URL (so an
 * embedded Postgres in a fresh data folder), PORT=0, the banner read from its
 * output, the official SDK against it, then Ctrl-C.
 */
const BIN = path.resolve(__dirname, "../../../bin/shareai.js");
const MODEL = "shareai-demo/echo";
const STARTUP_TIMEOUT_MS = 45_000;
const STOP_TIMEOUT_MS = 15_000;

interface StartedProcess {
  child: ChildProcess;
  url: string;
  apiKey: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function cliEnv(dataDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: "0", PG_DATA_DIR: dataDir, LOG_LEVEL: "info" };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  return env;
}

async function startShareai(dataDir: string, options: { detached?: boolean } = {}): Promise<StartedProcess> {
  const child = spawn(process.execPath, [BIN, "start"], {
    env: cliEnv(dataDir),
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (;;) {
    const url = /^\s*Base URL\s+(http\S+)$/m.exec(output)?.[1];
    const apiKey = /^\s*API key\s+(sk-shareai-\S+)$/m.exec(output)?.[1];
    if (url && apiKey && output.includes("Press Ctrl-C to stop.")) {
      return { child, url, apiKey, output: () => output, exited };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`shareai start did not print its banner:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function withinMs<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
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

function runAdmin(
  dataDir: string,
  ...argv: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...argv], { env: cliEnv(dataDir), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

function postmasterRunning(dataDir: string): boolean {
  return existsSync(path.join(dataDir, "cluster", "postmaster.pid"));
}

describe("shareai start (a real process)", function () {
  this.timeout(120_000);
  const dataDir = path.join(os.tmpdir(), `shareai-start-test-${process.pid}-${randomBytes(4).toString("hex")}`);
  const started: StartedProcess[] = [];

  after(async () => {
    for (const process of started) if (process.child.exitCode === null) process.child.kill("SIGKILL");
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it("prints a base URL and a demo key that work with the official SDK, and exits 0 on SIGINT", async () => {
    const shareai = await startShareai(dataDir);
    started.push(shareai);
    expect(shareai.url).to.match(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(shareai.output()).to.include(`curl ${shareai.url}/chat/completions`);

    const client = new OpenAI({ baseURL: shareai.url, apiKey: shareai.apiKey, maxRetries: 0 });
    expect((await client.models.list()).data.map((m) => m.id)).to.deep.equal([MODEL]);
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Hello from a test" }],
    });
    expect(completion.choices[0].message.content).to.equal("You said: Hello from a test");
    expect(completion.usage!.completion_tokens).to.be.above(0);

    // An admin command in another process shares the running embedded Postgres and leaves it running.
    const keys = await runAdmin(dataDir, "--json", "keys", "list");
    expect(keys.code, keys.stderr).to.equal(0);
    expect(JSON.parse(keys.stdout).map((k: { name: string }) => k.name)).to.deep.equal(["demo key (shareai start)"]);
    const again = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "still there?" }],
    });
    expect(again.choices[0].message.content).to.equal("You said: still there?");

    shareai.child.kill("SIGINT");
    const { code, signal } = await withinMs(shareai.exited, STOP_TIMEOUT_MS, "stopping after SIGINT");
    expect({ code, signal }, shareai.output()).to.deep.equal({ code: 0, signal: null });
    expect(shareai.output()).to.include('"msg":"stopped"');
    expect(postmasterRunning(dataDir), "the embedded Postgres is stopped").to.equal(false);
  });

  it("on Ctrl-C in a terminal (SIGINT to the whole process group), finishes a stream in flight before stopping Postgres", async () => {
    // Its own process group, as a shell gives a foreground job; the signal goes to the whole group.
    const shareai = await startShareai(dataDir, { detached: true });
    started.push(shareai);
    const client = new OpenAI({ baseURL: shareai.url, apiKey: shareai.apiKey, maxRetries: 0 });
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: words }],
      stream: true,
      stream_options: { include_usage: true },
    });

    let text = "";
    let usage: OpenAI.CompletionUsage | undefined;
    let signalled = false;
    // The SDK throws on an error event and on a stream cut before [DONE]; finishing this loop means a whole answer.
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      usage = chunk.usage ?? usage;
      if (!signalled && text.length > 0) {
        signalled = true;
        process.kill(-shareai.child.pid!, "SIGINT");
      }
    }
    expect(signalled).to.equal(true);
    expect(text).to.equal(`You said: ${words}`);
    expect(usage?.completion_tokens).to.be.above(60);

    const { code } = await withinMs(shareai.exited, STOP_TIMEOUT_MS, "stopping after Ctrl-C");
    expect(code, shareai.output()).to.equal(0);
    expect(shareai.output()).to.not.match(/"level":50/);
    expect(postmasterRunning(dataDir), "the embedded Postgres is stopped").to.equal(false);
  });

  it("with DATABASE_URL, --no-chain and --json, prints one ready line, serves, and exits 0 on SIGTERM", async () => {
    const testDatabase = await createTestDatabase();
    try {
      const env = { ...cliEnv(dataDir), DATABASE_URL: testDatabase.url, LOG_LEVEL: "warn" };
      const child = spawn(process.execPath, [BIN, "start", "--json", "--no-chain"], { env, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
      const deadline = Date.now() + STARTUP_TIMEOUT_MS;
      while (!stdout.includes("\n") && child.exitCode === null && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const ready = JSON.parse(stdout.split("\n")[0]);
      expect(ready).to.deep.include({
        event: "ready",
        database: `Postgres at 127.0.0.1:${new URL(testDatabase.url).port}${new URL(testDatabase.url).pathname}`,
      });
      expect(ready.demo).to.deep.include({ model: MODEL, balanceBase: "10000000" });

      const client = new OpenAI({ baseURL: ready.url, apiKey: ready.demo.apiKey, maxRetries: 0 });
      const completion = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "json" }],
      });
      expect(completion.choices[0].message.content).to.equal("You said: json");

      child.kill("SIGTERM");
      expect(await withinMs(exited, STOP_TIMEOUT_MS, "stopping after SIGTERM"), stdout).to.equal(0);
      expect(stdout.trimEnd().split("\n").pop()).to.equal('{"event":"stopped","signal":"SIGTERM"}');
    } finally {
      await testDatabase.drop();
    }
  });
});
