import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import {
  type GatewayHarness,
  MODEL_ID,
  PROVIDER_ADDRESS,
  eventually,
  startGatewayHarness,
} from "./support/gatewayHarness";

/** What the raw upstream answers: a status, a content type and the body in pieces, each its own write. */
interface RawAnswer {
  status?: number;
  contentType?: string;
  pieces: (string | Buffer)[];
  /** Pause between pieces, so that each arrives in a read of its own. */
  gapMs?: number;
}

/** An upstream that sends exactly the bytes it is given, to test the gateway's reading of the wire. */
class RawUpstream {
  answer: RawAnswer = { pieces: [] };
  readonly bodies: any[] = [];
  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<RawUpstream> {
    const server = http.createServer();
    const upstream = new RawUpstream(server);
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        upstream.bodies.push(JSON.parse(Buffer.concat(chunks).toString()));
        void upstream.send(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return upstream;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async send(res: http.ServerResponse): Promise<void> {
    const { status = 200, contentType = "application/json", pieces, gapMs = 0 } = this.answer;
    res.writeHead(status, { "content-type": contentType });
    for (const piece of pieces) {
      res.write(piece);
      if (gapMs) await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
    res.end();
  }
}

const bytesOf = (text: string) => [...Buffer.from(text)].map((b) => Buffer.from([b]));

describe("the upstream's wire, as the gateway reads and relays it", () => {
  let h: GatewayHarness;
  let upstream: RawUpstream;
  beforeEach(async () => {
    h = await startGatewayHarness({ registerUpstreams: false });
    upstream = await RawUpstream.start();
    h.ports.upstreams.add(
      {
        id: "upstream-0",
        providerId: "provider-0",
        providerAddress: PROVIDER_ADDRESS,
        baseUrl: upstream.baseUrl,
        apiKey: null,
        upstreamModel: "mock-model",
      },
      [MODEL_ID]
    );
  });
  afterEach(async () => {
    await h?.close();
    await upstream?.close();
  });

  async function post(body: object): Promise<{ status: number; contentType: string | null; text: string }> {
    const res = await fetch(`${h.gateway.url}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${h.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "hi" }], ...body }),
    });
    return { status: res.status, contentType: res.headers.get("content-type"), text: await res.text() };
  }

  const onlyRecord = () => {
    expect(h.ports.ledger.records.size).to.equal(1);
    return [...h.ports.ledger.records.values()][0];
  };

  describe("non-stream", () => {
    it("passes the upstream's text on as it came, only its top-level model renamed (escaped quotes, model in content)", async () => {
      const upstreamText =
        '{"id":"chatcmpl-raw","object":"chat.completion","created":1700000000,"model":"up \\"quoted\\" model\\\\",' +
        '"choices":[{"index":0,"message":{"role":"assistant","content":"the \\"model\\":\\"up\\" key","model":"nested"},' +
        '"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7},"extra":1.50}';
      upstream.answer = { pieces: [upstreamText] };
      const { status, contentType, text } = await post({});
      expect(status).to.equal(200);
      expect(contentType).to.equal("application/json; charset=utf-8");
      expect(text).to.equal(
        upstreamText.replace('"model":"up \\"quoted\\" model\\\\"', `"model":${JSON.stringify(MODEL_ID)}`)
      );
      const parsed = JSON.parse(text);
      expect(parsed.model).to.equal(MODEL_ID);
      expect(parsed.choices[0].message).to.deep.include({ content: 'the "model":"up" key', model: "nested" });
      expect(upstream.bodies[0].model).to.equal("mock-model");
      expect(onlyRecord()).to.include({ estimated: false, outcome: "completed" });
      expect(onlyRecord().usage).to.deep.equal({ promptTokens: 3, completionTokens: 4 });
    });

    it("reads a body split across many reads, and adds the model to a body that lacks it", async () => {
      const upstreamText = JSON.stringify(
        {
          id: "chatcmpl-raw",
          choices: [{ index: 0, message: { role: "assistant", content: "日本語 🎉" }, finish_reason: "stop" }],
          usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
        },
        null,
        2
      );
      upstream.answer = { pieces: bytesOf(upstreamText), gapMs: 0 };
      const { status, text } = await post({});
      expect(status).to.equal(200);
      expect(JSON.parse(text)).to.deep.equal({ ...JSON.parse(upstreamText), model: MODEL_ID });
    });

    it("adds our count as usage when the upstream reports none", async () => {
      upstream.answer = {
        pieces: [
          '{"id":"x","model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"one two"},"finish_reason":"stop"}]}',
        ],
      };
      const parsed = JSON.parse((await post({})).text);
      expect(parsed.model).to.equal(MODEL_ID);
      expect(parsed.usage.completion_tokens).to.equal(onlyRecord().usage.completionTokens);
      expect(onlyRecord()).to.include({ estimated: true });
    });

    it("fails over on a 200 whose body is not a JSON object (nothing else to try: 502)", async () => {
      upstream.answer = { pieces: ["[1,2,3]"] };
      const { status, text } = await post({});
      expect(status).to.equal(502);
      expect(JSON.parse(text).error.code).to.equal("upstream_error");
    });
  });

  describe("stream", () => {
    const events = (contents: string[], extra: (i: number) => object = () => ({})) =>
      contents.map((content, i) =>
        JSON.stringify({
          id: "chatcmpl-raw",
          object: "chat.completion.chunk",
          created: 1700000000,
          model: 'up "quoted" model\\',
          choices: [{ index: 0, delta: { content }, finish_reason: null }],
          usage: null,
          ...extra(i),
        })
      );
    const CONTENTS = ["", 'the "model":"up" key', " 日本語", " 🎉", "\\ done"];
    const USAGE = { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 };
    const streamText = (chunks: string[]) =>
      `${chunks.map((c) => `data: ${c}\n\n`).join("")}data: ${JSON.stringify({
        id: "chatcmpl-raw",
        object: "chat.completion.chunk",
        created: 1700000000,
        model: "up",
        choices: [],
        usage: USAGE,
      })}\n\ndata: [DONE]\n\n`;

    function relayed(text: string): { chunks: any[]; done: boolean } {
      const all = text
        .split("\n\n")
        .filter(Boolean)
        .map((e) => e.slice("data: ".length));
      return { chunks: all.filter((e) => e !== "[DONE]").map((e) => JSON.parse(e)), done: all.at(-1) === "[DONE]" };
    }

    for (const includeUsage of [true, false]) {
      it(`relays a stream whose every byte is a read of its own (include_usage: ${includeUsage})`, async () => {
        upstream.answer = { contentType: "text/event-stream", pieces: bytesOf(streamText(events(CONTENTS))), gapMs: 1 };
        const { status, text } = await post({
          stream: true,
          ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
        });
        expect(status).to.equal(200);
        const { chunks, done } = relayed(text);
        expect(done).to.equal(true);
        const content = chunks.slice(0, CONTENTS.length);
        expect(content.map((c) => c.choices[0].delta.content).join("")).to.equal(CONTENTS.join(""));
        for (const c of content) {
          expect(c).to.include({ id: "chatcmpl-raw", created: 1700000000, model: MODEL_ID });
          if (includeUsage) expect(c).to.have.property("usage", null);
          else expect(c).to.not.have.property("usage");
        }
        if (includeUsage) {
          expect(chunks).to.have.length(CONTENTS.length + 1);
          expect(chunks.at(-1)).to.deep.include({ choices: [], usage: USAGE, model: MODEL_ID, id: "chatcmpl-raw" });
        } else {
          expect(chunks).to.have.length(CONTENTS.length);
        }
        await eventually(() => h.ports.ledger.records.size === 1);
        expect(onlyRecord()).to.include({ estimated: false, outcome: "completed", stream: true });
      });
    }

    it("relays many events of one read; one id and created for all; a chunk without model gets ours", async () => {
      const chunks = events(CONTENTS, (i) => ({ id: `chatcmpl-${i}`, created: 1700000000 + i }));
      chunks[2] = JSON.stringify({ id: "other", choices: [{ index: 0, delta: { content: CONTENTS[2] } }] });
      upstream.answer = { contentType: "text/event-stream", pieces: [streamText(chunks)] };
      const { chunks: out, done } = relayed((await post({ stream: true })).text);
      expect(done).to.equal(true);
      expect(out).to.have.length(CONTENTS.length);
      expect(out.every((c) => c.id === "chatcmpl-0" && c.created === 1700000000 && c.model === MODEL_ID)).to.equal(
        true
      );
      expect(out.map((c) => c.choices[0].delta.content).join("")).to.equal(CONTENTS.join(""));
    });

    it("relays a large stream intact to a client that reads slowly (backpressure both ways)", async () => {
      const contents = Array.from({ length: 4000 }, (_, i) => ` ${i}:${"é".repeat(1000)}`);
      upstream.answer = { contentType: "text/event-stream", pieces: [streamText(events(contents))] };
      const text = await new Promise<string>((resolve, reject) => {
        const req = http.request(`${h.gateway.url}/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${h.secret}`, "content-type": "application/json" },
        });
        req.on("error", reject);
        req.on("response", (res) => {
          const pieces: Buffer[] = [];
          // A reader that stops, then reads slowly: the socket's buffers fill up, the gateway waits for
          // drains, and the upstream's reads queue up until the gateway stops reading from it.
          res.pause();
          setTimeout(() => res.resume(), 300);
          res.on("data", (piece: Buffer) => {
            pieces.push(piece);
            res.pause();
            setTimeout(() => res.resume(), 1);
          });
          res.on("end", () => resolve(Buffer.concat(pieces).toString("utf8")));
        });
        req.end(JSON.stringify({ model: MODEL_ID, messages: [{ role: "user", content: "hi" }], stream: true }));
      });
      const { chunks, done } = relayed(text);
      expect(done).to.equal(true);
      expect(chunks.map((c) => c.choices[0].delta.content).join("")).to.equal(contents.join(""));
      await eventually(() => h.ports.ledger.records.size === 1);
      expect(onlyRecord()).to.include({ outcome: "completed", estimated: false });
    });

    it("ends with the error event, no [DONE], when a chunk split across reads is not JSON", async () => {
      const text = `data: ${events(["a"])[0]}\n\ndata: {"choices":[{"delta":{"content":"b"}}]\n\ndata: [DONE]\n\n`;
      upstream.answer = { contentType: "text/event-stream", pieces: bytesOf(text), gapMs: 1 };
      const { chunks, done } = relayed((await post({ stream: true })).text);
      expect(done).to.equal(false);
      expect(chunks[0].choices[0].delta.content).to.equal("a");
      expect(chunks.at(-1).error).to.include({ code: "upstream_error" });
      await eventually(() => h.ports.ledger.records.size === 1);
      expect(onlyRecord()).to.include({ outcome: "upstream_error", estimated: true });
    });
  });
});
