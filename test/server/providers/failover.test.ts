import { expect } from "chai";
import OpenAI from "openai";
import { type GatewayHarness, MODEL_ID, eventually, startGatewayHarness } from "../http/support/gatewayHarness";

const ask = { model: MODEL_ID, messages: [{ role: "user" as const, content: "one two three four five" }] };

describe("failover between upstreams", () => {
  let h: GatewayHarness;
  afterEach(async () => {
    if (h) {
      for (let i = 0; i < h.upstreams.length; i++) {
        expect(h.gateway.app.upstreamStates.get(`upstream-${i}`).inFlight, `upstream-${i} in flight`).to.equal(0);
      }
    }
    await h?.close();
  });

  async function twoUpstreams(env: Record<string, string> = {}) {
    h = await startGatewayHarness({ upstreamCount: 2, env: { UPSTREAM_FIRST_BYTE_TIMEOUT_MS: "300", ...env } });
    return h.upstreams;
  }

  const record = () => {
    const records = [...h.ports.ledger.records.values()];
    expect(records).to.have.length(1);
    return records[0];
  };

  describe("before the first byte: the next upstream serves, the client never knows", () => {
    const faults = [
      ["a 500", { kind: "status", status: 500 }],
      ["a 503", { kind: "status", status: 503 }],
      ["a connection reset", { kind: "resetBeforeFirstByte" }],
      ["no first byte within the timeout", { kind: "slowFirstByte", delayMs: 1500 }],
      ["a 401 (our upstream key is wrong)", { kind: "status", status: 401 }],
      ["a 403", { kind: "status", status: 403 }],
      ["a 404 (our upstream model name is wrong)", { kind: "status", status: 404 }],
      ["a 429 (busy)", { kind: "status", status: 429 }],
      ["a 200 that is not JSON", { kind: "notJson" }],
    ] as const;

    for (const [name, fault] of faults) {
      it(`non-stream: ${name}`, async () => {
        const [first, second] = await twoUpstreams();
        first.failNext(fault);
        const completion = await h.client.chat.completions.create(ask);
        expect(completion.choices[0].message.content).to.equal("Echo: one two three four five");
        expect(first.chatRequests).to.have.length(1);
        expect(second.chatRequests).to.have.length(1);
        expect(h.gatewayHits()).to.equal(1);
        expect(record()).to.include({ upstreamId: "upstream-1", outcome: "completed" });
        expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
      });

      it(`stream: ${name}`, async () => {
        const [first, second] = await twoUpstreams();
        first.failNext(fault);
        const stream = await h.client.chat.completions.create({ ...ask, stream: true });
        let text = "";
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
        expect(text).to.equal("Echo: one two three four five");
        expect(second.chatRequests).to.have.length(1);
        await eventually(() => h.ports.ledger.records.size === 1);
        expect(record()).to.include({ upstreamId: "upstream-1", outcome: "completed", stream: true });
      });
    }

    it("a stream that breaks before its first chunk fails over too", async () => {
      const [first, second] = await twoUpstreams();
      first.failNext({ kind: "resetAfterFirstByte", afterChunks: 0 });
      const stream = await h.client.chat.completions.create({ ...ask, stream: true });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
      expect(text).to.equal("Echo: one two three four five");
      expect(second.chatRequests).to.have.length(1);
    });
  });

  it("an upstream's 400 is the client's mistake: passed back as a 400 with its message, not retried elsewhere", async () => {
    const [first, second] = await twoUpstreams();
    first.failNext({
      kind: "status",
      status: 400,
      body: { error: { message: "max_tokens is too large: 99999", param: "max_tokens" } },
    });
    const error = await h.client.chat.completions.create(ask).catch((e) => e);
    expect(error).to.be.instanceOf(OpenAI.BadRequestError);
    expect(error.status).to.equal(400);
    expect(error.error).to.deep.include({
      message: "max_tokens is too large: 99999",
      param: "max_tokens",
      code: "invalid_request_error",
    });
    expect(error.headers.get("x-should-retry")).to.equal("false");
    expect(second.chatRequests).to.have.length(0);
    expect(h.gatewayHits()).to.equal(1);
    expect(h.ports.ledger.records.size).to.equal(0);
    expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
  });

  it("when every upstream fails: 502 upstream_error, nothing billed, the hold released", async () => {
    const [first, second] = await twoUpstreams();
    first.setFault({ kind: "status", status: 500 });
    second.setFault({ kind: "resetBeforeFirstByte" });
    const error = await h
      .sdk({ maxRetries: 0 })
      .chat.completions.create(ask)
      .catch((e) => e);
    expect(error).to.be.instanceOf(OpenAI.InternalServerError);
    expect(error.status).to.equal(502);
    expect(error.code).to.equal("upstream_error");
    expect(error.message).to.include("2 tried");
    expect(h.ports.ledger.records.size).to.equal(0);
    expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
  });

  it("when every upstream times out: 504 upstream_timeout", async () => {
    const [first, second] = await twoUpstreams();
    first.setFault({ kind: "slowFirstByte", delayMs: 1000 });
    second.setFault({ kind: "slowFirstByte", delayMs: 1000 });
    const error = await h
      .sdk({ maxRetries: 0 })
      .chat.completions.create({ ...ask, stream: true })
      .catch((e) => e);
    expect(error.status).to.equal(504);
    expect(error.code).to.equal("upstream_timeout");
    expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
  });

  it("the circuit breaker takes a failing upstream out after N consecutive failures", async () => {
    const [first, second] = await twoUpstreams({ CIRCUIT_BREAKER_FAILURES: "2", CIRCUIT_BREAKER_COOLDOWN_MS: "60000" });
    first.setFault({ kind: "status", status: 500 });
    for (let i = 0; i < 5; i++) await h.client.chat.completions.create(ask);
    expect(first.chatRequests, "tried twice, then skipped").to.have.length(2);
    expect(second.chatRequests).to.have.length(5);
    expect(h.gateway.app.upstreamStates.get("upstream-0").breaker.currentState).to.equal("open");
    const metrics = await h.gateway.app.metrics.render();
    expect(metrics).to.match(
      /shareai_upstream_errors_total\{provider="provider-0",upstream="upstream-0",kind="status"\} 2/
    );
  });

  it("a half-open circuit lets one trial through after the cooldown and closes on success", async () => {
    const [first] = await twoUpstreams({ CIRCUIT_BREAKER_FAILURES: "1", CIRCUIT_BREAKER_COOLDOWN_MS: "200" });
    first.failNext({ kind: "status", status: 500 });
    await h.client.chat.completions.create(ask);
    expect(h.gateway.app.upstreamStates.get("upstream-0").breaker.currentState).to.equal("open");
    await new Promise((resolve) => setTimeout(resolve, 250));
    await h.client.chat.completions.create(ask);
    expect(first.chatRequests).to.have.length(2);
    expect(h.gateway.app.upstreamStates.get("upstream-0").breaker.currentState).to.equal("closed");
  });

  it("503 no_provider_available once every upstream of the model is out", async () => {
    const [first, second] = await twoUpstreams({ CIRCUIT_BREAKER_FAILURES: "1", CIRCUIT_BREAKER_COOLDOWN_MS: "60000" });
    first.setFault({ kind: "status", status: 500 });
    second.setFault({ kind: "status", status: 500 });
    await h
      .sdk({ maxRetries: 0 })
      .chat.completions.create(ask)
      .catch(() => undefined);
    const error = await h
      .sdk({ maxRetries: 0 })
      .chat.completions.create(ask)
      .catch((e) => e);
    expect(error.status).to.equal(503);
    expect(error.code).to.equal("no_provider_available");
  });
});
