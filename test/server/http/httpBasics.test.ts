import { expect } from "chai";
import { type GatewayHarness, MODEL_ID, startGatewayHarness } from "./support/gatewayHarness";

describe("HTTP basics", () => {
  let h: GatewayHarness;
  afterEach(async () => {
    await h?.close();
  });

  async function post(body: string | Buffer, headers: Record<string, string> = {}) {
    const res = await fetch(`${h.gateway.url}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.secret}`, "content-type": "application/json", ...headers },
      body,
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  }

  describe("bodies the API cannot read are 4xx OpenAI errors, never 5xx", () => {
    beforeEach(async () => {
      h = await startGatewayHarness({ env: { MAX_BODY_BYTES: "4096" } });
    });

    const cases: [string, string | Buffer, Record<string, string>, number, RegExp][] = [
      ["malformed JSON", '{"model": ', {}, 400, /could not parse the JSON/],
      ["JSON that is an array", "[1,2,3]", {}, 400, /must be a JSON object/],
      ["JSON that is a string", '"hello"', {}, 400, /must be a JSON object/],
      ["JSON null", "null", {}, 400, /must be a JSON object/],
      ["an empty body", "", {}, 400, /must be a JSON object/],
      ["a __proto__ key", '{"__proto__": {"admin": true}}', {}, 400, /could not parse/],
      ["a __proto__ key spelled with escapes", '{"\\u005f_proto__": {"admin": true}}', {}, 400, /could not parse/],
      ["a nested __proto__ key", '{"messages": [{"__proto__": {}}]}', {}, 400, /could not parse/],
      ["constructor.prototype", '{"constructor": {"prototype": {"admin": true}}}', {}, 400, /could not parse/],
      ["a byte-order mark before the object", "\ufeff{}", {}, 400, /Missing required parameter/],
      [
        "text/plain",
        JSON.stringify({ model: MODEL_ID }),
        { "content-type": "text/plain" },
        400,
        /Content-Type: application\/json/,
      ],
      ["a form", "a=b", { "content-type": "application/x-www-form-urlencoded" }, 400, /Content-Type/],
      [
        "a body over the limit",
        JSON.stringify({ model: MODEL_ID, pad: "x".repeat(5000) }),
        {},
        413,
        /larger than the 4096 bytes/,
      ],
      [
        "invalid UTF-8",
        Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
        {},
        400,
        /Missing required parameter/,
      ],
      ["an unsupported content-encoding", "{}", { "content-encoding": "br-nope" }, 400, /could not parse/],
    ];
    for (const [name, body, headers, status, message] of cases) {
      it(name, async () => {
        const res = await post(body, headers);
        expect(res.status).to.equal(status);
        expect(res.headers.get("content-type")).to.match(/^application\/json/);
        expect(res.headers.get("x-should-retry")).to.equal("false");
        expect(res.body.error.message).to.match(message);
        expect(res.body.error.type).to.equal("invalid_request_error");
      });
    }
  });

  it("unknown routes and methods are OpenAI-style 404s; /v1/responses says what to use instead", async () => {
    h = await startGatewayHarness();
    for (const [method, path] of [
      ["GET", "/v1/nope"],
      ["DELETE", "/v1/chat/completions"],
      ["GET", "/"],
      ["POST", "/v1/embeddings"],
    ]) {
      const res = await fetch(`${h.gateway.url.replace(/\/v1$/, "")}${path}`, { method });
      expect(res.status, `${method} ${path}`).to.equal(404);
      const body = (await res.json()) as any;
      expect(body.error).to.include({ code: "unknown_url", type: "invalid_request_error" });
      expect(body.error.message).to.include(`${method} ${path}`);
      expect(res.headers.get("x-request-id")).to.be.a("string");
    }
    const responses = await fetch(`${h.gateway.url}/responses`, { method: "POST" });
    expect(responses.status).to.equal(404);
    expect(((await responses.json()) as any).error.message).to.include(".chat(model)");
  });

  it("a malformed percent-encoding in the URL is a 400, not a 500", async () => {
    h = await startGatewayHarness();
    const res = await fetch(`${h.gateway.url}/models/%E0%A4%A`);
    expect(res.status).to.be.within(400, 404);
  });

  it("/healthz is always 200; /readyz follows the readiness check and turns 503 when draining", async () => {
    h = await startGatewayHarness();
    const base = h.gateway.url.replace(/\/v1$/, "");
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
    expect(await (await fetch(`${base}/readyz`)).json()).to.deep.equal({ status: "ready" });
    h.ports.readiness.failure = "database unreachable";
    const down = await fetch(`${base}/readyz`);
    expect(down.status).to.equal(503);
    expect(await down.json()).to.deep.equal({ status: "unavailable", reason: "database unreachable" });
    h.ports.readiness.failure = null;
    h.gateway.app.drain();
    expect((await fetch(`${base}/readyz`)).status).to.equal(503);
  });

  it("/metrics exposes requests, latency, tokens, holds and upstream errors", async () => {
    h = await startGatewayHarness();
    await h.client.chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "x y" }] });
    h.upstreams[0].failNext({ kind: "status", status: 500 });
    await h
      .sdk({ maxRetries: 0 })
      .chat.completions.create({ model: MODEL_ID, messages: [{ role: "user", content: "x" }] })
      .catch(() => undefined);
    const text = await (await fetch(`${h.gateway.url.replace(/\/v1$/, "")}/metrics`)).text();
    expect(text).to.match(
      /shareai_http_requests_total\{route="\/v1\/chat\/completions",method="POST",status="200"\} 1/
    );
    expect(text).to.match(
      /shareai_http_requests_total\{route="\/v1\/chat\/completions",method="POST",status="502"\} 1/
    );
    expect(text).to.match(
      /shareai_http_request_duration_seconds_bucket\{le="[^"]+",route="\/v1\/chat\/completions",method="POST"\}/
    );
    expect(text).to.match(/shareai_tokens_total\{model="shareai\/echo-1",kind="prompt"\} 5/);
    expect(text).to.match(/shareai_tokens_total\{model="shareai\/echo-1",kind="completion"\} 3/);
    expect(text).to.match(/shareai_active_holds 0/);
    expect(text).to.match(
      /shareai_upstream_errors_total\{provider="provider-0",upstream="upstream-0",kind="status"\} 1/
    );
  });

  it("stop() lets a stream in flight finish and bill before closing", async () => {
    h = await startGatewayHarness({ upstreamOptions: { chunkDelayMs: 30 }, env: { SHUTDOWN_GRACE_MS: "5000" } });
    const stream = await h.client.chat.completions.create({
      model: MODEL_ID,
      messages: [{ role: "user", content: "a b c d e f g h" }],
      stream: true,
    });
    const stopping = h.gateway.stop();
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    await stopping;
    expect(text).to.equal("Echo: a b c d e f g h");
    expect([...h.ports.ledger.records.values()][0]).to.include({ outcome: "completed" });
  });
});
