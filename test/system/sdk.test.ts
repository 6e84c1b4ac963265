import { randomBytes } from "node:crypto";
import { expect } from "chai";
import type OpenAI from "openai";
import type { ModelDetails } from "../../server/persistence/models/modelRepository";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { MockUpstream } from "../support/mockUpstream";
import { type SystemGateway, requestsCounted, startSystemGateway } from "../support/systemGateway";
import {
  type FundedKey,
  type ProviderWithUpstream,
  addModel,
  addProvider,
  costOf,
  eventually,
  expectApiError,
  expectSettledLedger,
  fundedKey,
  ledgerState,
  sdk,
  sdkWithoutKey,
  theUsageRecord,
  usageRecords,
} from "./support/world";

/**
 * The official `openai` SDK against the real composition: Postgres ledger,
 * HTTP app, rate limiter (Redis when REDIS_URL is set), a mock upstream. Every
 * successful request leaves exactly one usage record at the exact cost and no
 * hold; every refused one leaves nothing.
 */
describe("system: the official SDK against the Postgres-backed gateway", function () {
  this.timeout(30_000);

  let testDb: TestDatabase;
  let sys: SystemGateway;
  let mock: MockUpstream;
  let downMock: MockUpstream;
  let model: ModelDetails;
  let otherModel: ModelDetails;
  let downModel: ModelDetails;
  let disabledModel: ModelDetails;
  let served: ProviderWithUpstream;
  let funded: FundedKey;
  let client: OpenAI;

  const FUNDS_BASE = 10_000_000n; // 10 USDC
  const MAX_BODY_BYTES = 64 * 1024;

  before(async () => {
    testDb = await createTestDatabase();
    [mock, downMock] = await Promise.all([MockUpstream.start(), MockUpstream.start()]);
    // Caches off: the tests change keys and upstreams in the database and expect the next request to see it.
    // Health checks every 100 ms: the "upstream down" test waits for them.
    sys = await startSystemGateway({
      databaseUrl: testDb.url,
      env: {
        API_KEY_CACHE_TTL_MS: "0",
        CATALOG_CACHE_TTL_MS: "0",
        HEALTH_CHECK_INTERVAL_MS: "100",
        MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      },
    });
    const db = sys.db;
    model = await addModel(db, { id: "system/echo-1" });
    otherModel = await addModel(db, { id: "system/other-1", promptRatePerMTok: 0n, completionRatePerMTok: 20_000_000n });
    downModel = await addModel(db, { id: "system/down-1" });
    disabledModel = await addModel(db, { id: "system/disabled-1" });
    await addModel(db, { id: "system/hidden-1", enabled: false });
    served = await addProvider(db, mock.baseUrl, [model.id, otherModel.id]);
    await addProvider(db, downMock.baseUrl, [downModel.id]);
    await addProvider(db, mock.baseUrl, [disabledModel.id], { enabled: false });
    funded = await fundedKey(db, FUNDS_BASE);
    client = sdk(sys.url, funded.secret);
  });

  after(async () => {
    await sys?.stop();
    await Promise.all([mock?.close(), downMock?.close()]);
    await testDb?.drop();
  });

  describe("models", () => {
    it("lists every enabled model without a key, with exact pricing", async () => {
      const page = await sdkWithoutKey(sys.url).models.list();
      expect(page.data.map((m) => m.id).sort()).to.deep.equal(
        [model.id, otherModel.id, downModel.id, disabledModel.id].sort(),
      );
      expect(page.data.find((m) => m.id === model.id)).to.deep.equal({
        id: model.id,
        object: "model",
        created: 1_700_000_000,
        owned_by: "shareai-test",
        context_length: 8192,
        max_output_tokens: 256,
        pricing: {
          prompt_per_mtok_base: "250000",
          completion_per_mtok_base: "1000000",
          prompt_per_mtok_usdc: "0.25",
          completion_per_mtok_usdc: "1",
        },
      });
      const retrieved = await sdkWithoutKey(sys.url).models.retrieve(otherModel.id);
      expect(retrieved).to.include({ id: otherModel.id, object: "model" });
    });

    it("lists only the key's models with a key, and every model with an unrestricted key", async () => {
      const restricted = await fundedKey(sys.db, 0n, { allowedModels: [otherModel.id] });
      const page = await sdk(sys.url, restricted.secret).models.list();
      expect(page.data.map((m) => m.id)).to.deep.equal([otherModel.id]);
      expect((await client.models.list()).data).to.have.length(4);
    });

    it("answers 401 invalid_api_key to a bad key on /models instead of ignoring it", async () => {
      await expectApiError(sdk(sys.url, `sk-shareai-${randomBytes(32).toString("base64url")}`).models.list(), 401, "invalid_api_key");
    });
  });

  describe("chat completions", () => {
    const messages = [
      { role: "system" as const, content: "You are a test." },
      { role: "user" as const, content: "count the words of this sentence please" },
    ];

    async function expectOneRecordAtExactCost(
      requestId: string,
      usage: { prompt_tokens: number; completion_tokens: number } | null | undefined,
      stream: boolean,
    ) {
      const record = await theUsageRecord(sys.db, requestId);
      expect(usage, "usage reported to the client").to.be.an("object");
      expect(record).to.deep.include({
        account: funded.account,
        keyId: funded.key.id,
        modelId: model.id,
        providerAddress: served.provider.payoutAddress,
        upstreamId: served.upstream.id,
        promptTokens: usage!.prompt_tokens,
        completionTokens: usage!.completion_tokens,
        estimated: false,
        outcome: "completed",
        stream,
      });
      // prompt × $0.25/M + completion × $1/M, in micro base units, unrounded.
      expect(record.costMicros).to.equal(
        BigInt(usage!.prompt_tokens) * 250_000n + BigInt(usage!.completion_tokens) * 1_000_000n,
      );
      expect(record.costMicros).to.equal(costOf(model, usage!.prompt_tokens, usage!.completion_tokens));
      await expectSettledLedger(sys.db, funded.account);
    }

    it("non-stream: OpenAI's shape, and one usage record at the exact cost, no hold left", async () => {
      const before = await ledgerState(sys.db, funded.account);
      const { data, response } = await client.chat.completions.create({ model: model.id, messages }).withResponse();
      const requestId = response.headers.get("x-request-id")!;
      expect(requestId).to.match(/^[0-9a-f-]{36}$/);
      expect(data.object).to.equal("chat.completion");
      expect(data.id).to.match(/^chatcmpl-/);
      expect(data.model).to.equal(model.id);
      expect(data.choices[0].message.content).to.equal("Echo: count the words of this sentence please");
      expect(data.usage).to.include({ prompt_tokens: 17, completion_tokens: 8, total_tokens: 25 });
      // The response was sent after the commit: the record is there now, not eventually.
      await expectOneRecordAtExactCost(requestId, data.usage, false);
      const after = await ledgerState(sys.db, funded.account);
      expect(after.usageCount).to.equal(before.usageCount + 1);
      expect(after.unsettledMicros - before.unsettledMicros).to.equal(17n * 250_000n + 8n * 1_000_000n);
    });

    it("the client's own x-request-id is echoed; the ledger keys the record on the gateway's id", async () => {
      const { response } = await client.chat.completions
        .create({ model: model.id, messages }, { headers: { "x-request-id": "client-chosen-1" } })
        .withResponse();
      expect(response.headers.get("x-request-id")).to.equal("client-chosen-1");
      const ours = response.headers.get("x-shareai-request-id")!;
      expect(ours).to.match(/^[0-9a-f-]{36}$/);
      await theUsageRecord(sys.db, ours);
      expect(await usageRecords(sys.db, { requestId: "client-chosen-1" })).to.have.length(0);
    });

    it("stream with include_usage: one id and created, a final usage chunk with choices: [], one record", async () => {
      const { data: stream, response } = await client.chat.completions
        .create({ model: model.id, messages, stream: true, stream_options: { include_usage: true } })
        .withResponse();
      const requestId = response.headers.get("x-request-id")!;
      expect(response.headers.get("content-type")).to.match(/^text\/event-stream/);
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);

      expect(chunks.length).to.be.greaterThan(3);
      expect(new Set(chunks.map((c) => c.id)).size, "one id").to.equal(1);
      expect(new Set(chunks.map((c) => c.created)).size, "one created").to.equal(1);
      expect(chunks.every((c) => c.model === model.id)).to.equal(true);
      const last = chunks[chunks.length - 1];
      expect(last.choices).to.deep.equal([]);
      expect(last.usage).to.include({ prompt_tokens: 17, completion_tokens: 8, total_tokens: 25 });
      expect(chunks.slice(0, -1).every((c) => c.usage === null && c.choices.length > 0)).to.equal(true);
      const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
      expect(text).to.equal("Echo: count the words of this sentence please");
      await expectOneRecordAtExactCost(requestId, last.usage, true);
    });

    it("stream without include_usage: no usage chunk for the client, usage still asked upstream and billed", async () => {
      const { data: stream, response } = await client.chat.completions
        .create({ model: model.id, messages, stream: true })
        .withResponse();
      const requestId = response.headers.get("x-request-id")!;
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks.every((c) => c.choices.length > 0)).to.equal(true);
      expect(chunks.every((c) => c.usage === undefined || c.usage === null)).to.equal(true);
      expect(new Set(chunks.map((c) => c.id)).size).to.equal(1);
      expect(mock.chatRequests.at(-1)!.body.stream_options).to.deep.equal({ include_usage: true });
      await expectOneRecordAtExactCost(requestId, { prompt_tokens: 17, completion_tokens: 8 }, true);
    });
  });

  describe("every error code through the real stack; nothing held or billed", () => {
    const CHAT_ROUTE = "/v1/chat/completions";

    /**
     * Waits until a health check that started after now has been answered: rounds never overlap, so
     * once a second new probe has arrived, the round of the first one has ended and its verdict is in.
     */
    async function healthChecksSeen(upstream: MockUpstream) {
      const probes = () => upstream.requests.filter((r) => r.method === "GET" && r.path.endsWith("/models")).length;
      const before = probes();
      const seen = await eventually(async () => probes(), (n) => n >= before + 2, 5000, 20);
      expect(seen, "health probes").to.be.at.least(before + 2);
    }

    const body = (id: string) => ({ model: id, messages: [{ role: "user" as const, content: "hi" }] });

    /** A fresh account with its own key, so that "nothing billed, nothing held" is about this request only. */
    async function freshKey(availableBase = FUNDS_BASE, options: Parameters<typeof fundedKey>[2] = {}) {
      return fundedKey(sys.db, availableBase, options);
    }

    async function expectNothingLeft(key: FundedKey) {
      const state = await expectSettledLedger(sys.db, key.account);
      expect(state.usageCount, "usage records").to.equal(0);
    }

    it("401 missing_api_key", async () => {
      const error = await expectApiError(
        sdkWithoutKey(sys.url).chat.completions.create(body(model.id)),
        401,
        "missing_api_key",
      );
      expect(error.headers.get("x-should-retry")).to.equal("false");
    });

    it("401 invalid_api_key: an unknown key of the right shape, and a malformed one", async () => {
      await expectApiError(
        sdk(sys.url, `sk-shareai-${randomBytes(32).toString("base64url")}`).chat.completions.create(body(model.id)),
        401,
        "invalid_api_key",
      );
      await expectApiError(sdk(sys.url, "sk-not-ours").chat.completions.create(body(model.id)), 401, "invalid_api_key");
    });

    it("401 invalid_api_key for a key revoked in the database", async () => {
      const key = await freshKey();
      await sdk(sys.url, key.secret).chat.completions.create(body(model.id));
      expect(await sys.db.apiKeys.revoke(key.key.id)).to.equal(true);
      await expectApiError(sdk(sys.url, key.secret).chat.completions.create(body(model.id)), 401, "invalid_api_key");
      const state = await expectSettledLedger(sys.db, key.account);
      expect(state.usageCount).to.equal(1);
    });

    it("400 invalid_request_error naming the bad field", async () => {
      const key = await freshKey();
      const error = await expectApiError(
        sdk(sys.url, key.secret).chat.completions.create({ model: model.id, messages: "hi" as any }),
        400,
        "invalid_request_error",
      );
      expect(error.param).to.equal("messages");
      await expectNothingLeft(key);
    });

    it("404 model_not_found", async () => {
      const key = await freshKey();
      const error = await expectApiError(
        sdk(sys.url, key.secret).chat.completions.create(body("system/no-such-model")),
        404,
        "model_not_found",
      );
      expect(error.headers.get("x-should-retry")).to.equal("false");
      await expectNothingLeft(key);
    });

    it("404 model_not_found for a disabled model", async () => {
      const key = await freshKey();
      await expectApiError(sdk(sys.url, key.secret).chat.completions.create(body("system/hidden-1")), 404, "model_not_found");
      await expectNothingLeft(key);
    });

    it("403 model_not_allowed", async () => {
      const key = await freshKey(FUNDS_BASE, { allowedModels: [otherModel.id] });
      const error = await expectApiError(
        sdk(sys.url, key.secret).chat.completions.create(body(model.id)),
        403,
        "model_not_allowed",
      );
      expect(error.headers.get("x-should-retry")).to.equal("false");
      await expectNothingLeft(key);
    });

    it("402 insufficient_balance, and the SDK does not retry it", async () => {
      const key = await freshKey(0n);
      const countedBefore = await requestsCounted(sys, CHAT_ROUTE, 402);
      const error = await expectApiError(
        sdk(sys.url, key.secret, { maxRetries: 2 }).chat.completions.create(body(model.id)),
        402,
        "insufficient_balance",
      );
      expect(error.headers.get("x-should-retry")).to.equal("false");
      expect((await requestsCounted(sys, CHAT_ROUTE, 402)) - countedBefore, "402s the gateway answered").to.equal(1);
      await expectNothingLeft(key);
    });

    it("402 insufficient_balance when the balance is just below the request's hold", async () => {
      // 100 completion tokens at $1/M is 100 base units; the prompt's hold adds a little more.
      const key = await freshKey(100n);
      await expectApiError(
        sdk(sys.url, key.secret).chat.completions.create({ ...body(model.id), max_tokens: 100 }),
        402,
        "insufficient_balance",
      );
      await expectNothingLeft(key);
    });

    it("402 spend_cap_exceeded for a key whose total or daily cap does not cover the hold", async () => {
      for (const cap of [{ totalSpendCapBase: 0n }, { dailySpendCapBase: 1n }]) {
        const key = await freshKey(FUNDS_BASE, cap);
        const error = await expectApiError(
          sdk(sys.url, key.secret).chat.completions.create(body(model.id)),
          402,
          "spend_cap_exceeded",
        );
        expect(error.headers.get("x-should-retry")).to.equal("false");
        await expectNothingLeft(key);
      }
    });

    it("413 request_too_large over MAX_BODY_BYTES", async () => {
      const key = await freshKey();
      const error = await expectApiError(
        sdk(sys.url, key.secret).chat.completions.create({
          model: model.id,
          messages: [{ role: "user", content: "x ".repeat(MAX_BODY_BYTES) }],
        }),
        413,
        "request_too_large",
      );
      expect(error.headers.get("x-should-retry")).to.equal("false");
      await expectNothingLeft(key);
    });

    it("404 unknown_url for the Responses API, pointing to Chat Completions", async () => {
      const key = await freshKey();
      const error = await expectApiError(
        sdk(sys.url, key.secret).responses.create({ model: model.id, input: "hi" }),
        404,
        "unknown_url",
      );
      expect(error.message).to.match(/chat\/completions/);
      await expectNothingLeft(key);
    });

    it("429 rate_limit_exceeded for a key with 1 request per minute", async () => {
      // Counted in Redis when the run has REDIS_URL (as production does), else in memory.
      expect(sys.rateLimiterBackend).to.equal(process.env.REDIS_URL ? "redis" : "memory");
      const key = await freshKey(FUNDS_BASE, { requestsPerMinute: 1 });
      const keyClient = sdk(sys.url, key.secret);
      const first = await keyClient.chat.completions.create(body(model.id)).withResponse();
      expect(first.response.headers.get("x-ratelimit-limit-requests")).to.equal("1");
      const error = await expectApiError(keyClient.chat.completions.create(body(model.id)), 429, "rate_limit_exceeded");
      expect(Number(error.headers.get("retry-after"))).to.be.within(1, 60);
      expect(error.headers.get("x-ratelimit-remaining-requests")).to.equal("0");
      const state = await expectSettledLedger(sys.db, key.account);
      expect(state.usageCount, "only the admitted request is billed").to.equal(1);
    });

    it("503 no_provider_available when the model's only upstream is down (health check)", async () => {
      const key = await freshKey();
      downMock.healthy = false;
      await healthChecksSeen(downMock);
      await expectApiError(
        sdk(sys.url, key.secret).chat.completions.create(body(downModel.id)),
        503,
        "no_provider_available",
      );
      expect(downMock.chatRequests).to.have.length(0);
      await expectNothingLeft(key);

      // It comes back with the next successful health check.
      downMock.healthy = true;
      await healthChecksSeen(downMock);
      await sdk(sys.url, key.secret).chat.completions.create(body(downModel.id));
      expect((await expectSettledLedger(sys.db, key.account)).usageCount).to.equal(1);
    });

    it("503 no_provider_available when the model's only upstream is disabled", async () => {
      const key = await freshKey();
      await expectApiError(
        sdk(sys.url, key.secret).chat.completions.create(body(disabledModel.id)),
        503,
        "no_provider_available",
      );
      await expectNothingLeft(key);
    });

    describe("a deployment with no upstream at all", () => {
      let bareDb: TestDatabase;
      let bare: SystemGateway;
      before(async () => {
        bareDb = await createTestDatabase();
        bare = await startSystemGateway({
          databaseUrl: bareDb.url,
          beforeStart: async (db) => {
            await addModel(db, { id: model.id });
          },
        });
      });
      after(async () => {
        await bare?.stop();
        await bareDb?.drop();
      });

      it("503 provider_upstream_not_configured, not retried by the SDK", async () => {
        const key = await fundedKey(bare.db, FUNDS_BASE);
        const error = await expectApiError(
          sdk(bare.url, key.secret, { maxRetries: 2 }).chat.completions.create(body(model.id)),
          503,
          "provider_upstream_not_configured",
        );
        expect(error.headers.get("x-should-retry")).to.equal("false");
        expect(await requestsCounted(bare, CHAT_ROUTE, 503), "503s the gateway answered").to.equal(1);
        const state = await expectSettledLedger(bare.db, key.account);
        expect(state.usageCount).to.equal(0);
      });
    });
  });
});
