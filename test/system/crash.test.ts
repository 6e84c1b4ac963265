import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { expect } from "chai";
import { APIError } from "openai";
import { type Database, openDatabase } from "../../server/persistence";
import type { ModelDetails } from "../../server/persistence/models/modelRepository";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { MockUpstream } from "../support/mockUpstream";
import {
  type FundedKey,
  addModel,
  addProvider,
  eventually,
  expectSettledLedger,
  fundedKey,
  ledgerState,
  sdk,
  sleep,
  usageRecords,
} from "./support/world";

const REPO_ROOT = path.resolve(__dirname, "../..");
const CHILD_ENTRY = path.join(REPO_ROOT, "test/support/gatewayChild.ts");

interface GatewayChild {
  process: ChildProcess;
  url: string;
  stderr(): string;
  exited: Promise<number | null>;
}

/** Starts test/support/gatewayChild.ts as one node process and waits for the URL it prints. */
async function startGatewayChild(env: Record<string, string>): Promise<GatewayChild> {
  const child = spawn(process.execPath, ["--require", "tsx/cjs", CHILD_ENTRY], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: "silent", PORT: "0", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (data: Buffer) => (stderr += data.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway child did not start in time\n${stderr}`)), 20_000);
    child.stdout!.on("data", (data: Buffer) => {
      stdout += data.toString();
      for (const line of stdout.split("\n")) {
        if (!line.includes("shareaiGatewayChild")) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line).shareaiGatewayChild.url);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway child exited with ${code} before listening\n${stderr}`));
    });
  });
  return { process: child, url, stderr: () => stderr, exited };
}

interface Served {
  requestId: string;
  completionId: string;
}

/**
 * kill -9 of a gateway under load, then a restart on the same database: every
 * response a client received has its usage record (the record is committed
 * before the response is sent), and the holds of the requests that were in
 * flight are given back by the restarted instance's sweeper once they expire,
 * leaving held_micros = Σ active holds = 0.
 */
describe("system: kill -9 of a gateway under load, then a restart", function () {
  this.timeout(60_000);

  const HOLD_TTL_MS = 2000;
  const WORKERS = 8;
  const LOAD_BEFORE_KILL_MS = 1500;

  let testDb: TestDatabase;
  let mock: MockUpstream;
  let admin: Database;
  let model: ModelDetails;
  let funded: FundedKey;
  const children: GatewayChild[] = [];

  const childEnv = () => ({
    DATABASE_URL: testDb.url,
    HOLD_TTL_MS: String(HOLD_TTL_MS),
    UPSTREAM_FIRST_BYTE_TIMEOUT_MS: "1000",
    UPSTREAM_IDLE_TIMEOUT_MS: "1000",
  });

  before(async () => {
    testDb = await createTestDatabase();
    mock = await MockUpstream.start();
    // Each request spends a while upstream, holding its worst case: a kill always finds some in flight.
    mock.setFault({ kind: "slowFirstByte", delayMs: 40 });
    admin = await openDatabase({ databaseUrl: testDb.url });
    model = await addModel(admin);
    await addProvider(admin, mock.baseUrl, [model.id]);
    funded = await fundedKey(admin, 1_000_000_000n);
  });

  after(async () => {
    for (const child of children) {
      if (child.process.exitCode === null && child.process.signalCode === null) {
        child.process.kill("SIGKILL");
        await child.exited;
      }
    }
    await admin?.close();
    await mock?.close();
    await testDb?.drop();
  });

  it("every 200 a client received has its usage record; no hold is left after the TTL", async () => {
    const first = await startGatewayChild(childEnv());
    children.push(first);

    // Steady load: 8 clients, one non-stream request after another, until the gateway dies.
    const client = sdk(first.url, funded.secret, { maxRetries: 0, timeoutMs: 5000 });
    const served: Served[] = [];
    const failures: unknown[] = [];
    let killed = false;
    let sent = 0;
    const worker = async (w: number) => {
      for (let n = 0; !killed; n++) {
        sent += 1;
        try {
          const { data, response } = await client.chat.completions
            .create(
              { model: model.id, messages: [{ role: "user", content: `load ${w} ${n}` }], max_tokens: 16 },
              { headers: { "x-request-id": `crash-${w}-${n}` } },
            )
            .withResponse();
          expect(response.headers.get("x-request-id")).to.equal(`crash-${w}-${n}`);
          served.push({ requestId: response.headers.get("x-shareai-request-id")!, completionId: data.id });
        } catch (error) {
          if (!killed) throw error;
          failures.push(error);
        }
      }
    };
    const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    await sleep(LOAD_BEFORE_KILL_MS);
    killed = true;
    first.process.kill("SIGKILL");
    await load;
    expect(await first.exited).to.equal(null);
    expect(first.process.signalCode).to.equal("SIGKILL");

    expect(served.length, "responses received before the kill").to.be.greaterThan(20);
    expect(failures.length, "requests cut by the kill").to.be.at.most(WORKERS);
    for (const failure of failures) {
      expect(failure, "a request cut by the kill fails as a connection error").to.be.instanceOf(APIError);
    }

    // Every response a client received is billed: its record was durable before the response was sent.
    const records = await usageRecords(admin, { account: funded.account });
    const recorded = new Map(records.map((r) => [r.requestId, r]));
    const missing = served.filter((s) => !recorded.has(s.requestId));
    expect(missing, "200 responses without a usage record").to.deep.equal([]);
    expect(new Set(served.map((s) => s.completionId)).size, "distinct completions").to.equal(served.length);
    for (const s of served) expect(recorded.get(s.requestId)!.outcome).to.equal("completed");
    // Records beyond the responses are requests committed just before the kill whose response never arrived.
    expect(records.length - served.length).to.be.within(0, WORKERS);

    // The requests in flight at the kill left their holds behind, and the balance still counts them.
    const afterKill = await ledgerState(admin, funded.account);
    expect(afterKill.holdCount, "holds left by the killed instance").to.be.within(1, WORKERS);
    expect(afterKill.heldMicros).to.equal(afterKill.holdsSum);

    // A new instance on the same database; startGateway runs the hold sweeper in every instance.
    const second = await startGatewayChild(childEnv());
    children.push(second);
    const swept = await eventually(
      () => ledgerState(admin, funded.account),
      (state) => state.holdCount === 0,
      HOLD_TTL_MS + 5000,
      100,
    );
    expect(swept.holdCount, "holds left after the TTL").to.equal(0);
    expect(swept.heldMicros, "held_micros = Σ active holds = 0").to.equal(0n);
    const settled = await expectSettledLedger(admin, funded.account);
    expect(settled.usageCount).to.equal(records.length);

    // And it serves: the restarted gateway bills like the first one did.
    const { response } = await sdk(second.url, funded.secret)
      .chat.completions.create({ model: model.id, messages: [{ role: "user", content: "after the crash" }] })
      .withResponse();
    const requestId = response.headers.get("x-request-id")!;
    expect(await usageRecords(admin, { requestId })).to.have.length(1);
    const final = await expectSettledLedger(admin, funded.account);
    expect(final.usageCount).to.equal(records.length + 1);

    second.process.kill("SIGTERM");
    expect(await second.exited, `graceful stop\n${second.stderr()}`).to.equal(0);
    expect(sent).to.equal(served.length + failures.length);
  });
});
