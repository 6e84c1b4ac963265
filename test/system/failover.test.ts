import { expect } from "chai";
import type OpenAI from "openai";
import { APIError } from "openai";
import { countTextTokens } from "../../server/domain/tokens/countTextTokens";
import type { Database } from "../../server/persistence";
import type { ModelDetails } from "../../server/persistence/models/modelRepository";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { MockUpstream, type UpstreamFault } from "../support/mockUpstream";
import { type SystemGateway, startSystemGateway } from "../support/systemGateway";
import {
  type FundedKey,
  type ProviderWithUpstream,
  addModel,
  addProvider,
  costOf,
  expectApiError,
  expectSettledLedger,
  fundedKey,
  ledgerState,
  sdk,
  theUsageRecord,
} from "./support/world";

/**
 * Two upstreams for one model in the database. Before the first byte has
 * reached the client, a failing first upstream is replaced by the second and
 * the client never notices; the usage record names the upstream that served.
 * After the first byte there is no going back: the SDK's stream raises an
 * error (never a silent end) and what was delivered is billed.
 */
describe("system: failover between the upstreams of a model", function () {
  this.timeout(30_000);

  const FIRST_BYTE_TIMEOUT_MS = 500;

  interface Scenario {
    name: string;
    fault: UpstreamFault;
    stream: boolean;
  }
  const beforeFirstByte: Scenario[] = [
    { name: "500", fault: { kind: "status", status: 500 }, stream: false },
    { name: "500", fault: { kind: "status", status: 500 }, stream: true },
    { name: "a connection reset", fault: { kind: "resetBeforeFirstByte" }, stream: false },
    { name: "a connection reset", fault: { kind: "resetBeforeFirstByte" }, stream: true },
    { name: "a first-byte timeout", fault: { kind: "slowFirstByte", delayMs: FIRST_BYTE_TIMEOUT_MS * 3 }, stream: false },
    { name: "a first-byte timeout", fault: { kind: "slowFirstByte", delayMs: FIRST_BYTE_TIMEOUT_MS * 3 }, stream: true },
    { name: "a reset half-way through the body", fault: { kind: "resetAfterFirstByte" }, stream: false },
    { name: "a 200 that is not JSON", fault: { kind: "notJson" }, stream: false },
  ];

  interface Pair {
    model: ModelDetails;
    first: ProviderWithUpstream;
    second: ProviderWithUpstream;
  }

  let testDb: TestDatabase;
  let mockA: MockUpstream;
  let mockB: MockUpstream;
  let sys: SystemGateway;
  let funded: FundedKey;
  let client: OpenAI;
  const pairs: Pair[] = [];
  let nextPair = 0;

  /**
   * A model with its own two upstreams (A on mockA, created first; B on mockB), so that every
   * scenario starts from fresh routing state: neither measured, A ranked first.
   */
  async function addPair(db: Database): Promise<Pair> {
    const model = await addModel(db);
    const first = await addProvider(db, mockA.baseUrl, [model.id], { name: "first" });
    const second = await addProvider(db, mockB.baseUrl, [model.id], { name: "second" });
    return { model, first, second };
  }

  before(async () => {
    testDb = await createTestDatabase();
    [mockA, mockB] = await Promise.all([MockUpstream.start(), MockUpstream.start({ chunkDelayMs: 5 })]);
    sys = await startSystemGateway({
      databaseUrl: testDb.url,
      env: {
        UPSTREAM_FIRST_BYTE_TIMEOUT_MS: String(FIRST_BYTE_TIMEOUT_MS),
        UPSTREAM_IDLE_TIMEOUT_MS: "1000",
        HOLD_TTL_MS: "60000",
      },
      beforeStart: async (db) => {
        for (let i = 0; i < beforeFirstByte.length + 5; i++) pairs.push(await addPair(db));
      },
    });
    funded = await fundedKey(sys.db, 10_000_000n);
    client = sdk(sys.url, funded.secret);
  });

  after(async () => {
    await sys?.stop();
    await Promise.all([mockA?.close(), mockB?.close()]);
    await testDb?.drop();
  });

  const messages = [{ role: "user" as const, content: "route me somewhere that works" }];

  for (const scenario of beforeFirstByte) {
    it(`${scenario.stream ? "stream" : "non-stream"}: ${scenario.name} from the first upstream → served by the second`, async () => {
      const pair = pairs[nextPair++];
      const [aBefore, bBefore] = [mockA.chatRequests.length, mockB.chatRequests.length];
      mockA.failNext(scenario.fault);

      let requestId: string;
      let usage: { prompt_tokens: number; completion_tokens: number } | null | undefined;
      if (scenario.stream) {
        const { data, response } = await client.chat.completions
          .create({ model: pair.model.id, messages, stream: true, stream_options: { include_usage: true } })
          .withResponse();
        requestId = response.headers.get("x-request-id")!;
        let text = "";
        for await (const chunk of data) {
          text += chunk.choices[0]?.delta?.content ?? "";
          if (chunk.usage) usage = chunk.usage;
        }
        expect(text).to.equal("Echo: route me somewhere that works");
      } else {
        const { data, response } = await client.chat.completions
          .create({ model: pair.model.id, messages })
          .withResponse();
        requestId = response.headers.get("x-request-id")!;
        expect(data.choices[0].message.content).to.equal("Echo: route me somewhere that works");
        usage = data.usage;
      }

      expect(mockA.chatRequests.length - aBefore, "attempts at the first upstream").to.equal(1);
      expect(mockB.chatRequests.length - bBefore, "attempts at the second upstream").to.equal(1);
      const record = await theUsageRecord(sys.db, requestId);
      expect(record).to.deep.include({
        upstreamId: pair.second.upstream.id,
        providerAddress: pair.second.provider.payoutAddress,
        outcome: "completed",
        estimated: false,
        stream: scenario.stream,
        promptTokens: usage!.prompt_tokens,
        completionTokens: usage!.completion_tokens,
      });
      expect(record.costMicros).to.equal(costOf(pair.model, usage!.prompt_tokens, usage!.completion_tokens));
      await expectSettledLedger(sys.db, funded.account);
    });
  }

  for (const [status, code, fault] of [
    [502, "upstream_error", { kind: "status", status: 500 }],
    [504, "upstream_timeout", { kind: "slowFirstByte", delayMs: FIRST_BYTE_TIMEOUT_MS * 3 }],
  ] as const) {
    it(`both upstreams fail (${fault.kind}): ${status} ${code}, nothing billed, no hold left`, async () => {
      const pair = pairs[nextPair++];
      const key = await fundedKey(sys.db, 10_000_000n);
      const [aBefore, bBefore] = [mockA.chatRequests.length, mockB.chatRequests.length];
      mockA.failNext(fault);
      mockB.failNext(fault);
      const error = await expectApiError(
        sdk(sys.url, key.secret).chat.completions.create({ model: pair.model.id, messages }),
        status,
        code,
      );
      expect(error.headers.get("x-should-retry"), "retryable").to.not.equal("false");
      expect(mockA.chatRequests.length - aBefore).to.equal(1);
      expect(mockB.chatRequests.length - bBefore).to.equal(1);
      const state = await expectSettledLedger(sys.db, key.account);
      expect(state.usageCount).to.equal(0);
    });
  }

  describe("after the first byte", () => {
    const cuts: { name: string; fault: UpstreamFault; code: string }[] = [
      { name: "the upstream's connection is reset", fault: { kind: "resetAfterFirstByte", afterChunks: 3 }, code: "upstream_error" },
      { name: "the upstream ends without [DONE]", fault: { kind: "cutBeforeDone" }, code: "upstream_stream_truncated" },
      { name: "the upstream sends an error event", fault: { kind: "errorEventMidStream", afterChunks: 3 }, code: "upstream_error" },
    ];

    for (const cut of cuts) {
      it(`${cut.name}: the SDK stream raises ${cut.code} (no silent end, no failover), what was delivered is billed`, async () => {
        const pair = pairs[nextPair++];
        const [aBefore, bBefore] = [mockA.chatRequests.length, mockB.chatRequests.length];
        const usageBefore = (await ledgerState(sys.db, funded.account)).usageCount;
        mockA.failNext(cut.fault);

        const { data, response } = await client.chat.completions
          .create({ model: pair.model.id, messages, stream: true, stream_options: { include_usage: true } })
          .withResponse();
        const requestId = response.headers.get("x-request-id")!;
        let delivered = "";
        let contentChunks = 0;
        let usageChunk: OpenAI.Chat.Completions.ChatCompletionChunk | undefined;
        let raised: unknown;
        try {
          for await (const chunk of data) {
            if (chunk.choices.length === 0) usageChunk = chunk;
            else {
              contentChunks += 1;
              delivered += chunk.choices[0]?.delta?.content ?? "";
            }
          }
        } catch (error) {
          raised = error;
        }
        expect(raised, "the stream must raise, not end silently").to.be.instanceOf(APIError);
        expect((raised as APIError).code).to.equal(cut.code);
        expect(contentChunks, "chunks that reached the client before the cut").to.be.greaterThan(0);
        expect(mockA.chatRequests.length - aBefore).to.equal(1);
        expect(mockB.chatRequests.length - bBefore, "no failover after the first byte").to.equal(0);

        const record = await theUsageRecord(sys.db, requestId);
        const deliveredTokens = countTextTokens(delivered);
        expect(deliveredTokens).to.be.greaterThan(0);
        expect(record).to.deep.include({
          upstreamId: pair.first.upstream.id,
          providerAddress: pair.first.provider.payoutAddress,
          outcome: "upstream_error",
          stream: true,
          estimated: true,
          completionTokens: deliveredTokens,
        });
        expect(record.costMicros).to.equal(costOf(pair.model, record.promptTokens, record.completionTokens));
        // The client asked for usage: it gets the billed figures before the error.
        expect(usageChunk, "usage chunk before the error").to.not.equal(undefined);
        expect(usageChunk!.usage).to.include({
          prompt_tokens: record.promptTokens,
          completion_tokens: record.completionTokens,
        });
        const state = await expectSettledLedger(sys.db, funded.account);
        expect(state.usageCount).to.equal(usageBefore + 1);
      });
    }
  });
});
