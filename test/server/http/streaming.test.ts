import http from "node:http";
import { expect } from "chai";
import OpenAI from "openai";
import { countTextTokens } from "../../../server/domain/tokens/countTextTokens";
import { type GatewayHarness, MODEL_ID, eventually, startGatewayHarness } from "./support/gatewayHarness";

const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(" ");
const ask = (content = "one two three", extra: Record<string, unknown> = {}) => ({
  model: MODEL_ID,
  messages: [{ role: "user" as const, content }],
  stream: true as const,
  ...extra,
});

/** The raw SSE text of a streamed request, read with fetch. */
async function rawStream(
  h: GatewayHarness,
  body: object
): Promise<{ status: number; contentType: string | null; text: string }> {
  const res = await fetch(`${h.gateway.url}/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${h.secret}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, contentType: res.headers.get("content-type"), text: await res.text() };
}

function events(text: string): string[] {
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((e) => {
      expect(e.startsWith("data: "), e).to.equal(true);
      return e.slice(6);
    });
}

describe("streaming chat completions", () => {
  let h: GatewayHarness;
  afterEach(async () => {
    await h?.close();
  });

  /** Every upstream request has been let go of: nothing stays counted in flight. */
  const nothingInFlight = () =>
    h.upstreams.every((_, i) => h.gateway.app.upstreamStates.get(`upstream-${i}`).inFlight === 0);

  const onlyRecord = () => {
    expect(h.ports.ledger.records.size).to.equal(1);
    return [...h.ports.ledger.records.values()][0];
  };

  describe("a stream that finishes", () => {
    beforeEach(async () => {
      h = await startGatewayHarness();
    });

    it("is text/event-stream, `data: …` events of one id and created, ending with data: [DONE]", async () => {
      const { status, contentType, text } = await rawStream(h, ask());
      expect(status).to.equal(200);
      expect(contentType).to.match(/^text\/event-stream/);
      const all = events(text);
      expect(all.at(-1)).to.equal("[DONE]");
      const chunks = all.slice(0, -1).map((e) => JSON.parse(e));
      expect(new Set(chunks.map((c) => c.id)).size).to.equal(1);
      expect(chunks[0].id).to.match(/^chatcmpl-/);
      expect(new Set(chunks.map((c) => c.created)).size).to.equal(1);
      expect(chunks.every((c) => c.model === MODEL_ID)).to.equal(true);
      expect(
        chunks.every((c) => !("usage" in c)),
        "no usage unless asked"
      ).to.equal(true);
      expect(chunks.every((c) => Array.isArray(c.choices) && c.choices.length > 0)).to.equal(true);
    });

    it("always asks the upstream for usage, and bills it, even when the client did not ask", async () => {
      const stream = await h.client.chat.completions.create(ask());
      for await (const _ of stream);
      const sent = h.upstreams[0].chatRequests[0].body;
      expect(sent.stream_options).to.deep.equal({ include_usage: true });
      expect(sent.model).to.equal("mock-model");
      await eventually(() => h.ports.ledger.records.size === 1);
      expect(onlyRecord()).to.include({ estimated: false, outcome: "completed", stream: true });
      expect(onlyRecord().usage).to.deep.equal({ promptTokens: 6, completionTokens: 4 });
    });

    it("forwards the usage chunk (choices: []) last when include_usage is asked, with usage: null before it", async () => {
      const { text } = await rawStream(h, ask("one two three", { stream_options: { include_usage: true } }));
      const all = events(text);
      expect(all.at(-1)).to.equal("[DONE]");
      const chunks = all.slice(0, -1).map((e) => JSON.parse(e));
      const usageChunk = chunks.at(-1);
      expect(usageChunk.choices).to.deep.equal([]);
      expect(usageChunk.usage).to.include({ prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 });
      expect(usageChunk.id).to.equal(chunks[0].id);
      expect(chunks.slice(0, -1).every((c) => c.usage === null)).to.equal(true);
    });

    it("works with the official SDK with and without include_usage", async () => {
      let text = "";
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of await h.client.chat.completions.create(
        ask("hello sdk", { stream_options: { include_usage: true } })
      )) {
        text += chunk.choices[0]?.delta?.content ?? "";
        if (chunk.usage) usage = chunk.usage;
      }
      expect(text).to.equal("Echo: hello sdk");
      expect(usage).to.deep.include({ prompt_tokens: 5, completion_tokens: 3 });

      const seen: OpenAI.ChatCompletionChunk[] = [];
      for await (const chunk of await h.client.chat.completions.create(ask("hello sdk"))) seen.push(chunk);
      expect(seen.some((c) => c.usage)).to.equal(false);
    });

    it("streams tool calls through, and bills their arguments when the upstream reports no usage", async () => {
      h.upstreams[0].options.reportUsage = false;
      const stream = await h.client.chat.completions.create(
        ask("look this up", {
          tools: [
            {
              type: "function",
              function: { name: "lookup", parameters: { type: "object", properties: { echo: { type: "string" } } } },
            },
          ],
          tool_choice: "required",
        })
      );
      let args = "";
      let name = "";
      for await (const chunk of stream) {
        const call = chunk.choices[0]?.delta?.tool_calls?.[0];
        if (call?.function?.name) name = call.function.name;
        args += call?.function?.arguments ?? "";
      }
      expect(name).to.equal("lookup");
      expect(JSON.parse(args)).to.deep.equal({ echo: "look this up" });
      await eventually(() => h.ports.ledger.records.size === 1);
      expect(onlyRecord()).to.include({ estimated: true });
      expect(onlyRecord().usage.completionTokens).to.equal(countTextTokens(`lookup${args}`));
    });

    it("synthesizes the usage chunk from the tokenizer when the upstream reports none", async () => {
      h.upstreams[0].options.reportUsage = false;
      const { text } = await rawStream(h, ask("count me please", { stream_options: { include_usage: true } }));
      const chunks = events(text)
        .slice(0, -1)
        .map((e) => JSON.parse(e));
      const usage = chunks.at(-1).usage;
      expect(usage.completion_tokens).to.equal(countTextTokens("Echo: count me please"));
      expect(usage.total_tokens).to.equal(usage.prompt_tokens + usage.completion_tokens);
      expect(onlyRecord()).to.include({ estimated: true });
    });
  });

  describe("a stream that breaks after the first byte", () => {
    async function brokenStream(
      fault: Parameters<GatewayHarness["upstreams"][0]["failNext"]>[0],
      env: Record<string, string> = {}
    ) {
      h = await startGatewayHarness({ upstreamCount: 2, env });
      h.upstreams[0].failNext(fault);
      const received: string[] = [];
      const error = await (async () => {
        const stream = await h.client.chat.completions.create(ask(words(12)));
        for await (const chunk of stream) received.push(chunk.choices[0]?.delta?.content ?? "");
      })().catch((e) => e);
      await eventually(() => h.ports.ledger.records.size === 1);
      expect(h.upstreams[1].chatRequests, "no failover once the client has bytes").to.have.length(0);
      expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
      await eventually(nothingInFlight);
      return { error, received: received.join("") };
    }

    it("a connection reset ends with one error event (the SDK throws), and what was delivered is billed", async () => {
      const { error, received } = await brokenStream({ kind: "resetAfterFirstByte", afterChunks: 4 });
      expect(error).to.be.instanceOf(OpenAI.APIError);
      expect(error.code).to.equal("upstream_error");
      expect(received).to.equal("Echo: w0 w1");
      const record = onlyRecord();
      expect(record).to.include({ outcome: "upstream_error", estimated: true, stream: true });
      expect(record.usage.completionTokens).to.equal(countTextTokens("Echo: w0 w1"));
    });

    it("a stream cut before [DONE] is never a silent truncation: upstream_stream_truncated", async () => {
      const { error, received } = await brokenStream({ kind: "cutBeforeDone" });
      expect(error.code).to.equal("upstream_stream_truncated");
      expect(received).to.equal(`Echo: ${words(12)}`);
      expect(onlyRecord()).to.include({ outcome: "upstream_error", estimated: true });
    });

    it("an upstream error event mid-stream ends the stream with an error event", async () => {
      const { error } = await brokenStream({ kind: "errorEventMidStream", afterChunks: 3 });
      expect(error.code).to.equal("upstream_error");
      expect(error.message).to.include("mock upstream exploded");
    });

    it("an upstream that goes silent past the idle timeout ends with upstream_timeout", async () => {
      const { error } = await brokenStream({ kind: "stallAfterFirstChunk" }, { UPSTREAM_IDLE_TIMEOUT_MS: "300" });
      expect(error.code).to.equal("upstream_timeout");
    });

    it("sends no [DONE] after the error event", async () => {
      h = await startGatewayHarness();
      h.upstreams[0].failNext({ kind: "cutBeforeDone" });
      const all = events((await rawStream(h, ask())).text);
      expect(all).to.not.include("[DONE]");
      expect(JSON.parse(all.at(-1)!).error).to.include({ code: "upstream_stream_truncated", type: "server_error" });
    });
  });

  describe("a client that disconnects", () => {
    it("mid-stream: the upstream request is aborted and only what was generated until then is billed", async () => {
      h = await startGatewayHarness({ upstreamOptions: { chunkDelayMs: 40 } });
      const controller = new AbortController();
      const stream = await h.client.chat.completions.create(ask(words(100)), { signal: controller.signal });
      let received = "";
      let chunks = 0;
      await (async () => {
        for await (const chunk of stream) {
          received += chunk.choices[0]?.delta?.content ?? "";
          if (++chunks === 5) controller.abort();
        }
      })().catch(() => undefined);

      await eventually(() => h.ports.ledger.records.size === 1);
      await eventually(() => h.upstreams[0].abortedByClient === 1);
      const record = onlyRecord();
      expect(record).to.include({ outcome: "client_disconnected", estimated: true });
      // Billed: the text the gateway had received when the client left (at most a chunk more than the client read).
      const billed = record.usage.completionTokens;
      expect(billed).to.be.at.least(countTextTokens(received));
      expect(billed).to.be.at.most(countTextTokens(received) + 3);
      expect(billed).to.be.below(countTextTokens(`Echo: ${words(100)}`) / 4);
      expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
      await eventually(nothingInFlight);
    });

    for (const stream of [true, false]) {
      it(`while its hold was being placed (${stream ? "stream" : "non-stream"}): nothing goes upstream, nothing is billed, the hold is released`, async () => {
        h = await startGatewayHarness({ ledgerLatencyMs: 150 });
        const body = JSON.stringify({ ...ask(), stream });
        await new Promise<void>((resolve) => {
          const request = http.request(`${h.gateway.url}/chat/completions`, {
            method: "POST",
            headers: { authorization: `Bearer ${h.secret}`, "content-type": "application/json" },
          });
          request.on("error", () => resolve());
          request.end(body);
          // Gone while the ledger is still placing the hold: the connection's close has fired before the watch starts.
          setTimeout(() => {
            request.destroy();
            resolve();
          }, 50);
        });
        await eventually(() => h.ports.ledger.releases === 1);
        expect(h.ports.ledger.records.size).to.equal(0);
        expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
        expect(h.upstreams[0].chatRequests.length).to.equal(0);
        await eventually(nothingInFlight);
      });
    }

    it("before the upstream answered: the upstream request is aborted, nothing is billed, the hold is released", async () => {
      h = await startGatewayHarness({ upstreamOptions: {}, env: { UPSTREAM_FIRST_BYTE_TIMEOUT_MS: "5000" } });
      h.upstreams[0].failNext({ kind: "slowFirstByte", delayMs: 1000 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 150);
      await h.client.chat.completions.create(ask(), { signal: controller.signal }).catch(() => undefined);
      await eventually(() => h.ports.ledger.releases === 1);
      expect(h.ports.ledger.records.size).to.equal(0);
      expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
      await eventually(() => h.upstreams[0].abortedByClient === 1);
      await eventually(nothingInFlight);
    });
  });
});
