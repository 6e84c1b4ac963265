import { expect } from "chai";
import { StreamChunkRelay } from "../../../server/domain/chat/streamChunkRelay";
import type { MeteredUsage } from "../../../server/domain/metering/meterUsage";

const chunkOf = (object: Record<string, unknown>) => ({ text: JSON.stringify(object), parsed: object });
const NOW = 1_800_000_000_000;
const metered: MeteredUsage = {
  billed: { promptTokens: 5, completionTokens: 7 },
  cachedPromptTokens: 0,
  reasoningTokens: 0,
  estimated: true,
  capped: false,
};

describe("StreamChunkRelay (upstream chunks → the client's)", () => {
  it("stamps every chunk with the first chunk's id and created and our model, in the upstream's text", () => {
    const relay = new StreamChunkRelay("net/model", true, () => NOW);
    const first = relay.accept({
      text: '{"id":"c1","created":1700000000,"model":"up","choices":[{"index":0,"delta":{"content":"\\"model\\":\\"up\\""}}],"usage":null}',
      parsed: JSON.parse(
        '{"id":"c1","created":1700000000,"model":"up","choices":[{"index":0,"delta":{"content":"\\"model\\":\\"up\\""}}],"usage":null}'
      ),
    });
    expect(first).to.equal(
      '{"id":"c1","created":1700000000,"model":"net/model","choices":[{"index":0,"delta":{"content":"\\"model\\":\\"up\\""}}],"usage":null}'
    );
    const second = JSON.parse(
      relay.accept(chunkOf({ id: "c2", created: 5, choices: [{ index: 0, delta: { content: "x" } }] }))!
    );
    expect(second).to.deep.equal({
      id: "c1",
      created: 1700000000,
      model: "net/model",
      choices: [{ index: 0, delta: { content: "x" } }],
    });
  });

  it("makes up an id and created when the first chunk's are unusable", () => {
    const relay = new StreamChunkRelay("net/model", false, () => NOW);
    const out = JSON.parse(relay.accept(chunkOf({ id: "", created: -3, choices: [{ index: 0, delta: {} }] }))!);
    expect(out.id).to.match(/^chatcmpl-/);
    expect(out.created).to.equal(NOW / 1000);
  });

  it("keeps the usage out of the stream: null when the client asked for it, gone otherwise; a usage-only chunk is held back", () => {
    const usage = { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 };
    for (const includeUsage of [true, false]) {
      const relay = new StreamChunkRelay("net/model", includeUsage, () => NOW);
      const out = JSON.parse(
        relay.accept(chunkOf({ id: "c", created: 1, choices: [{ index: 0, delta: { content: "a" } }], usage: null }))!
      );
      if (includeUsage) expect(out).to.have.property("usage", null);
      else expect(out).to.not.have.property("usage");
      expect(relay.accept(chunkOf({ id: "c", created: 1, choices: [], usage }))).to.equal(null);
      expect(relay.reportedUsage).to.deep.include({ promptTokens: 5, completionTokens: 7 });
      const final = relay.usageChunk(metered);
      expect(final).to.equal(
        JSON.stringify({ id: "c", object: "chat.completion.chunk", created: 1, model: "net/model", choices: [], usage })
      );
    }
  });

  it("sends our count in the usage chunk when the upstream reported none", () => {
    const relay = new StreamChunkRelay("net/model", true, () => NOW);
    relay.accept(chunkOf({ id: "c", created: 1, choices: [{ index: 0, delta: { content: "a" } }] }));
    expect(JSON.parse(relay.usageChunk(metered)).usage).to.deep.equal({
      prompt_tokens: 5,
      completion_tokens: 7,
      total_tokens: 12,
    });
  });

  it("serialises the parsed chunk when its text cannot be rewritten", () => {
    const relay = new StreamChunkRelay("net/model", false, () => NOW);
    const out = relay.accept({
      text: "not an object",
      parsed: { id: "c", created: 1, choices: [{ index: 0 }], usage: null },
    });
    expect(JSON.parse(out!)).to.deep.equal({ id: "c", created: 1, choices: [{ index: 0 }], model: "net/model" });
  });
});
