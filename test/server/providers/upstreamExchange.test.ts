import { expect } from "chai";
import { type UpstreamChunk, UpstreamStreamFailure } from "../../../server/domain/chat/chatUpstream";
import { UpstreamProtocolError } from "../../../server/providers/openai-compatible/attemptFailure";
import {
  EventStreamExchange,
  type ExchangeOwner,
  TextExchange,
} from "../../../server/providers/openai-compatible/upstreamExchange";
import { SseParser } from "../../../server/providers/sse/sseParser";

/** An exchange driven as undici drives it: onConnect, onHeaders, onData…, onComplete or onError. */
function driven<T extends EventStreamExchange | TextExchange>(exchange: T) {
  const aborts: Error[] = [];
  let resumes = 0;
  exchange.onConnect((reason) => {
    aborts.push(reason!);
    exchange.onError(reason!);
  });
  return {
    exchange,
    aborts,
    resumes: () => resumes,
    head(status = 200, contentType = "text/event-stream; charset=utf-8") {
      return exchange.onHeaders(status, [Buffer.from("Content-Type"), Buffer.from(contentType)], () => (resumes += 1));
    },
  };
}

function owner(): ExchangeOwner & { firstBytes: number; timedOut: boolean } {
  return {
    firstBytes: 0,
    timedOut: false,
    firstByteArrived() {
      this.firstBytes += 1;
    },
    firstByteLeftMs: () => 60_000,
    firstByteTimedOut() {
      this.timedOut = true;
    },
  };
}

/** Every chunk read until [DONE] (null), or the failure. */
async function readAll(exchange: EventStreamExchange): Promise<{ batches: string[][]; error: unknown }> {
  const batches: string[][] = [];
  try {
    await exchange.opened;
    for (;;) {
      const chunks = await exchange.read();
      if (chunks === null) return { batches, error: null };
      batches.push(chunks.map((c: UpstreamChunk) => c.text));
    }
  } catch (error) {
    return { batches, error };
  }
}

const chunk = (i: number, text: string) =>
  JSON.stringify({ id: "c", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: text } }], i });
const STREAM_EVENTS = [chunk(0, ""), chunk(1, "héllo 日本"), chunk(2, ' 🎉 "quoted" \\ ok'), chunk(3, "")];
const STREAM = `: keep-alive\r\n\r\n${STREAM_EVENTS.map((e, i) => `data: ${e}${i % 2 ? "\r\n\r\n" : "\n\n"}`).join(
  ""
)}data: [DONE]\n\n`;

describe("SseParser (events handed over synchronously, per read)", () => {
  const parse = (pieces: (Buffer | string)[]) => {
    const events: string[] = [];
    const parser = new SseParser((data) => events.push(data));
    for (const piece of pieces) parser.push(piece);
    parser.end();
    return events;
  };

  it("hands over every event of one read within push", () => {
    const events: string[] = [];
    const parser = new SseParser((data) => events.push(data));
    parser.push(Buffer.from(STREAM));
    expect(events).to.deep.equal([...STREAM_EVENTS, "[DONE]"]);
  });

  it("gives the same events wherever one split falls, and with every byte its own read", () => {
    const bytes = Buffer.from(STREAM);
    const whole = [...STREAM_EVENTS, "[DONE]"];
    for (let at = 0; at <= bytes.length; at++) {
      expect(parse([bytes.subarray(0, at), bytes.subarray(at)]), `split at ${at}`).to.deep.equal(whole);
    }
    expect(parse([...bytes].map((b) => Buffer.from([b])))).to.deep.equal(whole);
  });

  it("skips a byte order mark at the start only", () => {
    expect(parse([Buffer.from("\uFEFFdata: a\n\n")])).to.deep.equal(["a"]);
    expect(
      parse([Buffer.from([0xef]), Buffer.from([0xbb, 0xbf]), Buffer.from("data: a\n\ndata: \uFEFFb\n\n")])
    ).to.deep.equal(["a", "\uFEFFb"]);
  });

  it("tells data and event fields from longer names", () => {
    const seen: [string, string | undefined][] = [];
    const parser = new SseParser((data, event) => seen.push([data, event]));
    parser.push("datax: no\ndata\nevent\nevents: no\ndata:x\nevent:error\n\n");
    expect(seen).to.deep.equal([["\nx", "error"]]);
  });
});

describe("EventStreamExchange (an upstream stream as an undici dispatch handler)", () => {
  it("opens at the first chunk, gives all the chunks of one read together, and null after [DONE]", async () => {
    const o = owner();
    const d = driven(new EventStreamExchange(o, 1024));
    expect(d.head()).to.equal(true);
    expect(o.firstBytes, "the headers are not the first byte of a stream").to.equal(0);
    d.exchange.onData(Buffer.from(STREAM));
    d.exchange.onComplete();
    expect(await readAll(d.exchange)).to.deep.equal({ batches: [STREAM_EVENTS], error: null });
    expect(o.firstBytes).to.equal(1);
  });

  it("relays the same chunks wherever the reads split the bytes", async () => {
    const bytes = Buffer.from(STREAM);
    for (let at = 0; at <= bytes.length; at++) {
      const d = driven(new EventStreamExchange(owner(), 1024));
      d.head();
      const result = readAll(d.exchange);
      d.exchange.onData(bytes.subarray(0, at));
      await Promise.resolve();
      d.exchange.onData(bytes.subarray(at));
      d.exchange.onComplete();
      const { batches, error } = await result;
      expect(error, `split at ${at}`).to.equal(null);
      expect(batches.flat(), `split at ${at}`).to.deep.equal(STREAM_EVENTS);
    }
  });

  it("holds the rest of the first-byte timeout for the first event after the headers", async () => {
    const late = { ...owner(), firstByteLeftMs: () => 20 };
    const d = driven(new EventStreamExchange(late, 1024));
    d.head();
    d.exchange.onData(Buffer.from(": still thinking\n\n"));
    expect(await d.exchange.opened.catch((e) => e)).to.be.instanceOf(UpstreamProtocolError);
    expect(late.timedOut).to.equal(true);
    expect(d.aborts).to.have.length(1);

    const early = { ...owner(), firstByteLeftMs: () => 20 };
    const served = driven(new EventStreamExchange(early, 1024));
    served.head();
    served.exchange.onData(Buffer.from(`data: ${STREAM_EVENTS[0]}\n\n`));
    await served.exchange.opened;
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(early.timedOut).to.equal(false);
    expect(served.aborts).to.have.length(0);
  });

  it("ignores what follows [DONE], errors included", async () => {
    const d = driven(new EventStreamExchange(owner(), 1024));
    d.head();
    d.exchange.onData(Buffer.from(`data: ${STREAM_EVENTS[0]}\n\ndata: [DONE]\n\ndata: not json\n\n`));
    d.exchange.onError(new Error("reset after the end"));
    expect(await readAll(d.exchange)).to.deep.equal({ batches: [[STREAM_EVENTS[0]]], error: null });
  });

  it("fails after the chunks before a bad one, and aborts the request at once", async () => {
    const d = driven(new EventStreamExchange(owner(), 1024));
    d.head();
    d.exchange.onData(
      Buffer.from(
        `data: ${STREAM_EVENTS[0]}\n\ndata: ${STREAM_EVENTS[1]}\n\ndata: {"cut":\n\ndata: ${STREAM_EVENTS[2]}\n\n`
      )
    );
    expect(d.aborts).to.have.length(1);
    const { batches, error } = await readAll(d.exchange);
    expect(batches).to.deep.equal([[STREAM_EVENTS[0], STREAM_EVENTS[1]]]);
    expect(error).to.be.instanceOf(UpstreamStreamFailure).with.property("kind", "malformed");
  });

  it("rejects `opened` when the stream fails before its first chunk: an error event, or an end without [DONE]", async () => {
    const errorEvent = driven(new EventStreamExchange(owner(), 1024));
    errorEvent.head();
    errorEvent.exchange.onData(Buffer.from('event: error\ndata: {"message":"overloaded"}\n\n'));
    const failure = await errorEvent.exchange.opened.catch((e) => e);
    expect(failure).to.be.instanceOf(UpstreamStreamFailure).with.property("kind", "upstream_error");

    const cut = driven(new EventStreamExchange(owner(), 1024));
    cut.head();
    cut.exchange.onData(Buffer.from(": nothing but a comment\n\n"));
    cut.exchange.onComplete();
    expect(await cut.exchange.opened.catch((e) => e))
      .to.be.instanceOf(UpstreamStreamFailure)
      .with.property("kind", "truncated");
  });

  it("takes a last event without its blank line at the end, [DONE] included", async () => {
    const d = driven(new EventStreamExchange(owner(), 1024));
    d.head();
    d.exchange.onData(Buffer.from(`data: ${STREAM_EVENTS[0]}\n\ndata: [DONE]`));
    d.exchange.onComplete();
    expect(await readAll(d.exchange)).to.deep.equal({ batches: [[STREAM_EVENTS[0]]], error: null });
  });

  it("pauses the upstream while the consumer has not taken 64 KiB of chunks, and resumes it when it does", async () => {
    const d = driven(new EventStreamExchange(owner(), 1024));
    d.head();
    const big = chunk(9, "x".repeat(40_000));
    expect(d.exchange.onData(Buffer.from(`data: ${big}\n\n`))).to.equal(true);
    expect(d.exchange.onData(Buffer.from(`data: ${big}\n\n`))).to.equal(false);
    await d.exchange.opened;
    expect((await d.exchange.read())!.length).to.equal(2);
    expect(d.resumes()).to.equal(1);
  });

  it("reads a non-200's body, bounded, for its error text", async () => {
    const o = owner();
    const d = driven(new EventStreamExchange(o, 8));
    d.head(503, "application/json");
    expect(o.firstBytes).to.equal(1);
    d.exchange.onData(Buffer.from("0123"));
    expect(d.exchange.onData(Buffer.from("456789"))).to.equal(false);
    await d.exchange.opened;
    expect(d.exchange.statusCode).to.equal(503);
    expect(d.exchange.errorText).to.equal("01234567");
    expect(d.aborts, "the rest is dropped").to.have.length(1);
  });

  it("fails a 200 that is not an event stream", async () => {
    const d = driven(new EventStreamExchange(owner(), 1024));
    expect(d.head(200, "application/json")).to.equal(false);
    expect(await d.exchange.opened.catch((e) => e)).to.be.instanceOf(UpstreamProtocolError);
  });

  it("fails at once when aborted before it has a connection, and aborts the request when it gets one", async () => {
    const exchange = new EventStreamExchange(owner(), 1024);
    exchange.abort(new Error("client gone"));
    expect(((await exchange.opened.catch((e) => e)) as Error).message).to.equal("client gone");
    const aborted: Error[] = [];
    exchange.onConnect((reason) => aborted.push(reason!));
    expect(aborted.map((e) => e.message)).to.deep.equal(["client gone"]);
  });

  it("gives a consumer that let go before [DONE] nothing more and aborts; after [DONE] lets the body end", async () => {
    const early = driven(new EventStreamExchange(owner(), 1024));
    early.head();
    early.exchange.onData(Buffer.from(`data: ${STREAM_EVENTS[0]}\n\n`));
    await early.exchange.opened;
    early.exchange.release();
    expect(early.aborts).to.have.length(1);

    const done = driven(new EventStreamExchange(owner(), 1024));
    done.head();
    done.exchange.onData(Buffer.from(`data: ${STREAM_EVENTS[0]}\n\ndata: [DONE]\n\n`));
    await done.exchange.opened;
    done.exchange.release();
    done.exchange.onComplete();
    expect(done.aborts, "the connection goes back to the pool").to.have.length(0);
  });
});

describe("TextExchange (a whole response, bounded)", () => {
  it("fails a 200 whose body is over the limit, and keeps the start of an error body", async () => {
    const big = driven(new TextExchange(owner(), 8, 4));
    big.head(200, "application/json");
    big.exchange.onData(Buffer.from('{"a":'));
    big.exchange.onData(Buffer.from("1234}"));
    expect(await big.exchange.response.catch((e) => e)).to.be.instanceOf(UpstreamProtocolError);

    const error = driven(new TextExchange(owner(), 8, 4));
    error.head(500, "text/plain");
    error.exchange.onData(Buffer.from("bad gateway"));
    expect(await error.exchange.response).to.deep.equal({ statusCode: 500, text: "bad " });
    expect(error.aborts).to.have.length(1);
  });

  it("joins the pieces of a body split inside a UTF-8 character", async () => {
    const d = driven(new TextExchange(owner(), 1024, 16));
    d.head(200, "application/json");
    const bytes = Buffer.from('{"t":"日本"}');
    d.exchange.onData(bytes.subarray(0, 7));
    d.exchange.onData(bytes.subarray(7));
    d.exchange.onComplete();
    expect(await d.exchange.response).to.deep.equal({ statusCode: 200, text: '{"t":"日本"}' });
  });
});
