import { expect } from "chai";
import type { ModelDetails } from "../../server/persistence/models/modelRepository";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { MockUpstream } from "../support/mockUpstream";
import { type SystemGateway, startSystemGateway } from "../support/systemGateway";
import {
  type FundedKey,
  addModel,
  addProvider,
  eventually,
  expectSettledLedger,
  fundedKey,
  ledgerState,
  sdk,
  usageRecords,
} from "./support/world";

interface StreamResult {
  requestId: string;
  chunks: number;
  done: boolean;
  error: string | null;
}

/**
 * A graceful stop (SIGTERM: `GatewayProcess.stop()` of the composition root)
 * while streams are in flight. Streams that end within SHUTDOWN_GRACE_MS end
 * normally and are billed as completed; longer ones are cut, billed for what
 * they delivered, and no hold is left. A stream the gateway's own shutdown
 * cut is a client disconnect, not an error of a healthy upstream.
 */
describe("system: graceful stop with streams in flight", function () {
  this.timeout(30_000);

  let testDb: TestDatabase;
  let mock: MockUpstream;
  let model: ModelDetails | undefined;

  before(async () => {
    testDb = await createTestDatabase();
    mock = await MockUpstream.start({ chunkDelayMs: 50 });
  });

  after(async () => {
    await mock?.close();
    await testDb?.drop();
  });

  async function gatewayWithStreams(graceMs: number, words: number, streams: number) {
    const sys = await startSystemGateway({
      databaseUrl: testDb.url,
      env: { SHUTDOWN_GRACE_MS: String(graceMs) },
      beforeStart: async (db) => {
        if (model) return;
        model = await addModel(db);
        await addProvider(db, mock.baseUrl, [model.id]);
      },
    });
    const modelId = model!.id;
    const funded = await fundedKey(sys.db, 10_000_000n);
    const client = sdk(sys.url, funded.secret);
    const content = Array.from({ length: words }, (_, i) => `w${i}`).join(" ");
    const progress: StreamResult[] = [];
    const finished = Promise.all(
      Array.from({ length: streams }, async () => {
        const result: StreamResult = { requestId: "", chunks: 0, done: false, error: null };
        progress.push(result);
        try {
          const { data, response } = await client.chat.completions
            .create({ model: modelId, messages: [{ role: "user", content }], stream: true })
            .withResponse();
          result.requestId = response.headers.get("x-request-id")!;
          for await (const _chunk of data) result.chunks += 1;
          result.done = true;
        } catch (error) {
          result.error = (error as Error).message;
        }
        return result;
      }),
    );
    // Stop only once every stream is flowing.
    await eventually(
      async () => progress.filter((r) => r.chunks >= 2).length,
      (n) => n === streams,
      5000,
      10,
    );
    expect(progress.filter((r) => r.chunks >= 2)).to.have.length(streams);
    return { sys, funded, finished };
  }

  /** The composition root's stop (SIGTERM); the test's database handle stays open for the checks. */
  async function stopGateway(sys: SystemGateway, funded: FundedKey) {
    await sys.process.stop();
    return ledgerState(sys.db, funded.account);
  }

  it("streams that end within SHUTDOWN_GRACE_MS finish normally and are billed as completed", async () => {
    const { sys, funded, finished } = await gatewayWithStreams(5000, 8, 10);
    try {
      const atStop = await stopGateway(sys, funded);
      const results = await finished;
      expect(results.every((r) => r.done && r.error === null)).to.equal(true);
      expect(atStop.holdCount, "holds open when stop() resolved").to.equal(0);
      const records = await usageRecords(sys.db, { account: funded.account });
      expect(records).to.have.length(10);
      expect(new Set(records.map((r) => r.outcome))).to.deep.equal(new Set(["completed"]));
      await expectSettledLedger(sys.db, funded.account);
    } finally {
      await sys.stop();
    }
  });

  it("a stream cut by the stop is billed for what it delivered as client_disconnected, not as an upstream error", async () => {
    const abortedBefore = mock.abortedByClient;
    const { sys, funded, finished } = await gatewayWithStreams(200, 40, 10);
    try {
      await sys.process.stop();
      const results = await finished;
      const records = await eventually(
        () => usageRecords(sys.db, { account: funded.account }),
        (rows) => rows.length === 10,
        3000,
      );
      expect(records).to.have.length(10);
      const byId = new Map(records.map((r) => [r.requestId, r]));
      for (const result of results) {
        expect(result.chunks).to.be.greaterThan(0);
        expect(byId.has(result.requestId), `record of ${result.requestId}`).to.equal(true);
      }
      await expectSettledLedger(sys.db, funded.account);
      expect(mock.abortedByClient - abortedBefore, "upstream requests cancelled").to.equal(10);
      expect(
        records.map((r) => r.outcome),
        "the upstream was healthy: the gateway's own shutdown cut these streams",
      ).to.deep.equal(Array(10).fill("client_disconnected"));
    } finally {
      await sys.stop();
    }
  });
});
