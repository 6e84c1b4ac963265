import { expect } from "chai";
import type OpenAI from "openai";
import { APIUserAbortError } from "openai";
import { ChatCompletionRequestSchema } from "../../server/domain/chat/chatCompletionRequest";
import { countPromptTokens } from "../../server/domain/tokens/countPromptTokens";
import { countTextTokens } from "../../server/domain/tokens/countTextTokens";
import type { ModelDetails } from "../../server/persistence/models/modelRepository";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { MockUpstream } from "../support/mockUpstream";
import { type SystemGateway, startSystemGateway } from "../support/systemGateway";
import {
  type FundedKey,
  addModel,
  addProvider,
  costOf,
  eventually,
  expectSettledLedger,
  fundedKey,
  ledgerState,
  sdk,
  usageRecords,
} from "./support/world";

/**
 * A client that goes away pays for what was generated up to then, no more,
 * and its hold is given back: the upstream request is cancelled at once.
 */
describe("system: a client that disconnects", function () {
  this.timeout(30_000);

  const CHUNK_DELAY_MS = 50;
  const WORDS = Array.from({ length: 40 }, (_, i) => `word${i}`).join(" ");

  let testDb: TestDatabase;
  let mock: MockUpstream;
  let sys: SystemGateway;
  let model: ModelDetails;
  let funded: FundedKey;
  let client: OpenAI;

  before(async () => {
    testDb = await createTestDatabase();
    mock = await MockUpstream.start({ chunkDelayMs: CHUNK_DELAY_MS });
    sys = await startSystemGateway({
      databaseUrl: testDb.url,
      beforeStart: async (db) => {
        model = await addModel(db);
        await addProvider(db, mock.baseUrl, [model.id]);
      },
    });
    funded = await fundedKey(sys.db, 10_000_000n);
    client = sdk(sys.url, funded.secret);
  });

  after(async () => {
    await sys?.stop();
    await mock?.close();
    await testDb?.drop();
  });

  it("mid-stream (AbortController after 5 chunks): billed what was delivered, client_disconnected, hold released", async () => {
    const body = {
      model: model.id,
      messages: [{ role: "user" as const, content: WORDS }],
      stream: true as const,
      stream_options: { include_usage: true },
    };
    const fullCompletionTokens = countTextTokens(`Echo: ${WORDS}`);
    const abortedBefore = mock.abortedByClient;
    const controller = new AbortController();
    const { data: stream, response } = await client.chat.completions
      .create(body, { signal: controller.signal })
      .withResponse();
    const requestId = response.headers.get("x-request-id")!;

    let delivered = "";
    let chunks = 0;
    let sawUsage = false;
    try {
      for await (const chunk of stream) {
        chunks += 1;
        delivered += chunk.choices[0]?.delta?.content ?? "";
        if (chunk.usage) sawUsage = true;
        if (chunks === 5) {
          controller.abort();
          break;
        }
      }
    } catch (error) {
      // Depending on timing the SDK may surface the abort as an error; either way the client is gone.
      if (!(error instanceof APIUserAbortError)) throw error;
    }
    expect(sawUsage).to.equal(false);
    expect(delivered.length).to.be.greaterThan(0);

    const [record] = await eventually(
      () => usageRecords(sys.db, { requestId }),
      (rows) => rows.length > 0,
      5000,
    );
    expect(record, "the usage record of the disconnected stream").to.not.equal(undefined);
    expect(record).to.deep.include({ outcome: "client_disconnected", stream: true, estimated: true });

    // What the gateway had relayed when the client left: at least what the client read, at most a few
    // chunks more (in flight between the client's abort and the gateway seeing the socket close).
    const deliveredTokens = countTextTokens(delivered);
    expect(record.completionTokens).to.be.at.least(deliveredTokens);
    expect(record.completionTokens).to.be.at.most(deliveredTokens + 5);
    expect(record.completionTokens).to.be.below(fullCompletionTokens);
    // The upstream's usage never arrived: the prompt is our count, and the cost is exact for what was billed.
    const request = ChatCompletionRequestSchema.parse(body);
    expect(record.promptTokens).to.equal(countPromptTokens(request));
    expect(record.costMicros).to.equal(costOf(model, record.promptTokens, record.completionTokens));

    // The upstream request was cancelled, not left generating.
    await eventually(async () => mock.abortedByClient, (n) => n > abortedBefore, 3000);
    expect(mock.abortedByClient).to.equal(abortedBefore + 1);
    const state = await expectSettledLedger(sys.db, funded.account);
    expect(state.usageCount).to.equal(1);
    expect(state.usageSum).to.equal(record.costMicros);
  });

  for (const stream of [true, false]) {
    it(`${stream ? "stream" : "non-stream"}: a client gone before the upstream answered pays nothing; hold released`, async () => {
      const key = await fundedKey(sys.db, 10_000_000n);
      const abortedBefore = mock.abortedByClient;
      mock.failNext({ kind: "slowFirstByte", delayMs: 1500 });
      const controller = new AbortController();
      const pending = sdk(sys.url, key.secret)
        .chat.completions.create(
          { model: model.id, messages: [{ role: "user", content: "never mind" }], stream },
          { signal: controller.signal },
        )
        .then(
          () => "answered",
          (error: unknown) => (error instanceof APIUserAbortError ? "aborted" : error),
        );
      // Abort only once the request holds its worst case and waits on the upstream.
      const held = await eventually(() => ledgerState(sys.db, key.account), (s) => s.holdCount === 1, 3000);
      expect(held.holdCount, "the request's hold while it waits").to.equal(1);
      controller.abort();
      expect(await pending).to.equal("aborted");

      const state = await eventually(() => ledgerState(sys.db, key.account), (s) => s.holdCount === 0, 3000);
      expect(state.holdCount).to.equal(0);
      await eventually(async () => mock.abortedByClient, (n) => n > abortedBefore, 3000);
      expect(mock.abortedByClient, "the upstream request was cancelled").to.equal(abortedBefore + 1);
      const settled = await expectSettledLedger(sys.db, key.account);
      expect(settled.usageCount, "nothing billed").to.equal(0);
    });
  }
});
