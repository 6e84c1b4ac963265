import { expect } from "chai";
import { UpstreamStreamFailure } from "../../../server/domain/chat/chatUpstream";
import { upstreamChunks } from "../../../server/providers/openai-compatible/upstreamChunks";
import type { SseEvent } from "../../../server/providers/sse/readSseEvents";

async function collect(events: SseEvent[]): Promise<{ chunks: unknown[]; error: unknown }> {
  async function* source() {
    for (const e of events) yield e;
  }
  const chunks: unknown[] = [];
  try {
    for await (const chunk of upstreamChunks(source())) chunks.push(chunk);
    return { chunks, error: null };
  } catch (error) {
    return { chunks, error };
  }
}

const data = (d: string, event?: string): SseEvent => ({ data: d, event });

describe("upstreamChunks (an OpenAI-compatible stream, parsed)", () => {
  it("yields each chunk and ends cleanly at [DONE], ignoring anything after it", async () => {
    const { chunks, error } = await collect([data('{"a":1}'), data('{"a":2}'), data("[DONE]"), data('{"late":true}')]);
    expect(error).to.equal(null);
    expect(chunks).to.deep.equal([{ a: 1 }, { a: 2 }]);
  });

  it("throws 'truncated' when the stream ends without [DONE], after yielding what came", async () => {
    const { chunks, error } = await collect([data('{"a":1}')]);
    expect(chunks).to.have.length(1);
    expect(error).to.be.instanceOf(UpstreamStreamFailure).with.property("kind", "truncated");
  });

  it("throws 'upstream_error' on an error chunk or an `event: error`", async () => {
    const inBody = await collect([data('{"a":1}'), data('{"error":{"message":"overloaded"}}')]);
    expect(inBody.error).to.be.instanceOf(UpstreamStreamFailure).with.property("kind", "upstream_error");
    expect((inBody.error as Error).message).to.include("overloaded");
    const named = await collect([data('{"message":"bad"}', "error")]);
    expect(named.error).to.be.instanceOf(UpstreamStreamFailure).with.property("kind", "upstream_error");
  });

  it("throws 'malformed' on a chunk that is not a JSON object", async () => {
    for (const bad of ["not json", "[1,2]", "42", "null", '{"cut":']) {
      const { error } = await collect([data(bad)]);
      expect(error, bad).to.be.instanceOf(UpstreamStreamFailure).with.property("kind", "malformed");
    }
  });
});
