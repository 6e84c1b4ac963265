import { expect } from "chai";
import OpenAI from "openai";
import { type GatewayHarness, MODEL_ID, startGatewayHarness } from "./support/gatewayHarness";

const ask = { model: MODEL_ID, messages: [{ role: "user" as const, content: "hi" }] };

/** Calls through the official SDK (retries on, as users run it) and returns the error it threw. */
async function sdkError(
  h: GatewayHarness,
  call: (client: OpenAI) => Promise<unknown>,
  client = h.client
): Promise<any> {
  const error = await call(client).then(
    () => null,
    (e) => e
  );
  expect(error, "the call should have failed").to.be.instanceOf(OpenAI.APIError);
  return error;
}

/** Every error must be OpenAI's body shape with a JSON content type. */
function expectOpenAiBody(error: any, status: number, code: string) {
  expect(error.status).to.equal(status);
  expect(error.code).to.equal(code);
  expect(Object.keys(error.error).sort()).to.deep.equal(["code", "message", "param", "type"]);
  expect(error.error.message).to.be.a("string").and.not.equal("");
  expect(error.headers.get("content-type")).to.match(/^application\/json/);
  expect(error.headers.get("x-request-id")).to.be.a("string");
}

function expectNotRetried(h: GatewayHarness, error: any) {
  expect(error.headers.get("x-should-retry")).to.equal("false");
  expect(h.gatewayHits(), "the SDK must not retry a 4xx").to.equal(1);
}

describe("errors: DESIGN.md's table, through the official SDK", () => {
  let h: GatewayHarness;
  afterEach(async () => {
    await h?.close();
  });

  describe("with a funded key and a healthy upstream", () => {
    beforeEach(async () => {
      h = await startGatewayHarness();
    });

    it("401 missing_api_key without a Bearer token", async () => {
      const client = new OpenAI({
        baseURL: h.gateway.url,
        apiKey: "unused",
        defaultHeaders: { authorization: null },
        maxRetries: 2,
      });
      const error = await sdkError(h, (c) => c.chat.completions.create(ask), client);
      expect(error).to.be.instanceOf(OpenAI.AuthenticationError);
      expectOpenAiBody(error, 401, "missing_api_key");
      expectNotRetried(h, error);
    });

    for (const [name, key] of [
      ["an unknown key", `sk-shareai-${"A".repeat(43)}`],
      ["a key of another service", "sk-proj-abcdef"],
      ["a key with odd characters", "sk-shareai-!!!!"],
    ]) {
      it(`401 invalid_api_key for ${name}, never echoing it`, async () => {
        const error = await sdkError(h, (c) => c.chat.completions.create(ask), h.sdk({ apiKey: key }));
        expect(error).to.be.instanceOf(OpenAI.AuthenticationError);
        expectOpenAiBody(error, 401, "invalid_api_key");
        expect(error.message).to.not.include(key);
        expectNotRetried(h, error);
      });
    }

    it("401 invalid_api_key for a revoked key (once the key cache expires)", async () => {
      const { secret, key } = h.ports.apiKeys.create({ account: "0x01" });
      h.ports.apiKeys.revoke(key.id);
      const error = await sdkError(h, (c) => c.models.list(), h.sdk({ apiKey: secret }));
      expectOpenAiBody(error, 401, "invalid_api_key");
    });

    const badBodies: [string, Record<string, unknown>, string, RegExp][] = [
      ["no model", { messages: ask.messages }, "model", /Missing required parameter: 'model'/],
      ["no messages", { model: MODEL_ID }, "messages", /Missing required parameter: 'messages'/],
      ["empty messages", { model: MODEL_ID, messages: [] }, "messages", /at least 1 item/],
      [
        "a role that does not exist",
        { model: MODEL_ID, messages: [{ role: "robot", content: "x" }] },
        "messages.[0].role",
        /role/,
      ],
      [
        "content of the wrong type",
        { ...ask, messages: [{ role: "user", content: 42 }] },
        "messages.[0].content",
        /string or an array/,
      ],
      ["temperature as text", { ...ask, temperature: "hot" }, "temperature", /expected number/],
      ["temperature too high", { ...ask, temperature: 3 }, "temperature", /at most 2/],
      ["a fractional n", { ...ask, n: 1.5 }, "n", /int/],
      ["max_tokens of 0", { ...ask, max_tokens: 0 }, "max_tokens", /at least 1/],
      ["a huge max_tokens", { ...ask, max_tokens: 1e300 }, "max_tokens", /no larger than/],
      ["stream as a string", { ...ask, stream: "yes" }, "stream", /expected boolean/],
      [
        "a tool message without tool_call_id",
        { ...ask, messages: [{ role: "tool", content: "x" }] },
        "messages.[0].tool_call_id",
        /Missing/,
      ],
    ];
    for (const [name, body, param, message] of badBodies) {
      it(`400 invalid_request_error naming the field: ${name}`, async () => {
        const error = await sdkError(h, (c) => c.chat.completions.create(body as any));
        expect(error).to.be.instanceOf(OpenAI.BadRequestError);
        expectOpenAiBody(error, 400, "invalid_request_error");
        expect(error.type).to.equal("invalid_request_error");
        expect(error.param).to.equal(param);
        expect(error.message).to.match(message);
        expectNotRetried(h, error);
        expect(h.upstreams[0].chatRequests).to.have.length(0);
      });
    }

    it("404 model_not_found", async () => {
      const error = await sdkError(h, (c) => c.chat.completions.create({ ...ask, model: "no/such-model" }));
      expect(error).to.be.instanceOf(OpenAI.NotFoundError);
      expectOpenAiBody(error, 404, "model_not_found");
      expect(error.param).to.equal("model");
      expectNotRetried(h, error);
    });

    it("503 no_provider_available for a model nobody online serves", async () => {
      h.ports.models.add({ id: "lonely/model" });
      const error = await sdkError(
        h,
        (c) => c.chat.completions.create({ ...ask, model: "lonely/model" }),
        h.sdk({ maxRetries: 0 })
      );
      expect(error).to.be.instanceOf(OpenAI.InternalServerError);
      expectOpenAiBody(error, 503, "no_provider_available");
      expect(error.type).to.equal("server_error");
      expect(error.headers.get("x-should-retry")).to.equal(null);
    });

    it("503 no_provider_available when the model's only upstream is down", async () => {
      h.upstreams[0].healthy = false;
      await h.gateway.app.healthChecker.checkAll();
      const error = await sdkError(h, (c) => c.chat.completions.create(ask), h.sdk({ maxRetries: 0 }));
      expectOpenAiBody(error, 503, "no_provider_available");
    });
  });

  it("413 request_too_large for a body over MAX_BODY_BYTES; not retried", async () => {
    h = await startGatewayHarness({ env: { MAX_BODY_BYTES: "2048" } });
    const error = await sdkError(h, (c) =>
      c.chat.completions.create({ ...ask, messages: [{ role: "user", content: "x".repeat(5000) }] })
    );
    expectOpenAiBody(error, 413, "request_too_large");
    expectNotRetried(h, error);
  });

  it("403 model_not_allowed for a model outside the key's allowlist", async () => {
    h = await startGatewayHarness({ key: { allowedModels: ["another/model"] } });
    const error = await sdkError(h, (c) => c.chat.completions.create(ask));
    expect(error).to.be.instanceOf(OpenAI.PermissionDeniedError);
    expectOpenAiBody(error, 403, "model_not_allowed");
    expectNotRetried(h, error);
  });

  it("429 rate_limit_exceeded with retry-after and x-ratelimit-* headers; the SDK retries it", async () => {
    h = await startGatewayHarness({ key: { requestsPerMinute: 1 } });
    const ok = await h.client.chat.completions.create(ask).withResponse();
    expect(ok.response.headers.get("x-ratelimit-limit-requests")).to.equal("1");
    expect(ok.response.headers.get("x-ratelimit-remaining-requests")).to.equal("0");

    // The real wait is most of a minute; shorten what the SDK is told, so that its retry is quick to observe.
    const limiter = h.ports.rateLimiter;
    const check = limiter.check.bind(limiter);
    limiter.check = async (...args) => {
      const decision = await check(...args);
      if (!decision.allowed) decision.headers["retry-after-ms"] = "20";
      return decision;
    };
    const error = await sdkError(h, (c) => c.chat.completions.create(ask), h.sdk({ maxRetries: 1 }));
    expect(error).to.be.instanceOf(OpenAI.RateLimitError);
    expectOpenAiBody(error, 429, "rate_limit_exceeded");
    expect(error.type).to.equal("requests");
    expect(Number(error.headers.get("retry-after"))).to.be.within(1, 60);
    expect(error.headers.get("x-ratelimit-limit-requests")).to.equal("1");
    expect(error.headers.get("x-ratelimit-reset-requests")).to.match(/s$/);
    expect(error.headers.get("x-should-retry")).to.equal(null);
    expect(h.gatewayHits(), "one success, then the 429 and its retry").to.equal(3);
  });

  it("429 that retrying cannot fix (a request larger than the token limit) says x-should-retry: false", async () => {
    h = await startGatewayHarness({ key: { tokensPerMinute: 50 } });
    const error = await sdkError(h, (c) => c.chat.completions.create({ ...ask, max_tokens: 500 }));
    expectOpenAiBody(error, 429, "rate_limit_exceeded");
    expect(error.type).to.equal("tokens");
    expectNotRetried(h, error);
  });

  it("503 provider_upstream_not_configured when the deployment has no provider at all; not retried", async () => {
    h = await startGatewayHarness({ registerUpstreams: false });
    const error = await sdkError(h, (c) => c.chat.completions.create(ask));
    expectOpenAiBody(error, 503, "provider_upstream_not_configured");
    expectNotRetried(h, error);
  });

  it("402 insufficient_balance when the hold does not fit; nothing reaches the upstream", async () => {
    h = await startGatewayHarness({ depositBase: 1n });
    const error = await sdkError(h, (c) => c.chat.completions.create(ask));
    expectOpenAiBody(error, 402, "insufficient_balance");
    expect(error.type).to.equal("insufficient_quota");
    expect(error.message).to.match(/may cost up to 0\.\d+ USDC/);
    expectNotRetried(h, error);
    expect(h.upstreams[0].chatRequests).to.have.length(0);
    expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
  });

  it("402 spend_cap_exceeded when the key's daily cap does not cover the hold", async () => {
    h = await startGatewayHarness({ key: { dailySpendCapBase: 1n } });
    const error = await sdkError(h, (c) => c.chat.completions.create(ask));
    expectOpenAiBody(error, 402, "spend_cap_exceeded");
    expect(error.message).to.include("daily");
    expectNotRetried(h, error);
  });

  describe("checked in DESIGN.md's order: key, body, model, permissions, rate, providers, balance", () => {
    it("key before body", async () => {
      h = await startGatewayHarness();
      const error = await sdkError(
        h,
        (c) => c.chat.completions.create({} as any),
        h.sdk({ apiKey: "sk-shareai-nope-nope-nope-nope" })
      );
      expect(error.status).to.equal(401);
    });

    it("body before model", async () => {
      h = await startGatewayHarness();
      const error = await sdkError(h, (c) => c.chat.completions.create({ model: "no/such", messages: [] }));
      expect(error.status).to.equal(400);
    });

    it("model before permissions", async () => {
      h = await startGatewayHarness({ key: { allowedModels: [] } });
      const error = await sdkError(h, (c) => c.chat.completions.create({ ...ask, model: "no/such" }));
      expect(error.status).to.equal(404);
    });

    it("permissions before rate", async () => {
      h = await startGatewayHarness({ key: { allowedModels: [], tokensPerMinute: 1 } });
      const error = await sdkError(h, (c) => c.chat.completions.create(ask));
      expect(error.status).to.equal(403);
    });

    it("rate before providers", async () => {
      h = await startGatewayHarness({ registerUpstreams: false, key: { tokensPerMinute: 1 } });
      const error = await sdkError(h, (c) => c.chat.completions.create(ask));
      expect(error.status).to.equal(429);
    });

    it("providers before balance", async () => {
      h = await startGatewayHarness({ registerUpstreams: false, depositBase: 0n });
      const error = await sdkError(h, (c) => c.chat.completions.create(ask));
      expect(error.status).to.equal(503);
    });
  });
});
