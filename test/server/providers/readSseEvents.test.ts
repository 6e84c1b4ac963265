import { expect } from "chai";
import { type SseEvent, readSseEvents } from "../../../server/providers/sse/readSseEvents";
import { seededRandom } from "../http/support/seededRandom";

async function parse(chunks: (string | Uint8Array)[]): Promise<SseEvent[]> {
  async function* source() {
    for (const chunk of chunks) yield chunk;
  }
  const events: SseEvent[] = [];
  for await (const event of readSseEvents(source())) events.push(event);
  return events;
}

/** Splits bytes at random places, including inside "\r\n" pairs and multi-byte UTF-8 characters. */
function randomSplit(bytes: Uint8Array, random: ReturnType<typeof seededRandom>): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    const size = random.chance(0.3) ? 1 : random.int(1, 40);
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

describe("readSseEvents", () => {
  it("splits events on blank lines with \\n, \\r\\n and \\r line endings", async () => {
    const events = await parse(["data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: [DONE]\n\n"]);
    expect(events.map((e) => e.data)).to.deep.equal(["a", "b", "c", "[DONE]"]);
  });

  it("joins multi-line data, drops comments, reads event names and the optional space", async () => {
    const events = await parse([
      ': keep-alive\n\nevent: error\ndata:{"x":1}\ndata: more\n\nid: 7\nretry: 10\ndata: z\n\n',
    ]);
    expect(events).to.deep.equal([
      { event: "error", data: '{"x":1}\nmore' },
      { event: undefined, data: "z" },
    ]);
  });

  it("ignores blank events and yields a final event that lacks its blank line", async () => {
    expect((await parse(["\n\n\ndata: tail"])).map((e) => e.data)).to.deep.equal(["tail"]);
    expect((await parse(["data: x\n"])).map((e) => e.data)).to.deep.equal(["x"]);
  });

  it("treats a \\r at a chunk's end as a line end only once it knows no \\n follows", async () => {
    expect((await parse(["data: a\r", "\n\r", "\ndata: b\r", "\r"])).map((e) => e.data)).to.deep.equal(["a", "b"]);
  });

  it("yields the same events however the bytes are split (random splits)", async () => {
    const random = seededRandom("sse splits");
    for (let round = 0; round < 300; round++) {
      const expected: string[] = [];
      let text = "";
      const count = random.int(1, 12);
      for (let i = 0; i < count; i++) {
        const payload = JSON.stringify({
          i,
          text: random.pick(["héllo", "日本語 テキスト", "emoji 🎉🚀", "plain", "a\\nb", ""]),
        });
        expected.push(payload);
        const newline = random.pick(["\n", "\r\n", "\r"]);
        if (random.chance(0.2)) text += `: ping${newline}${newline}`;
        text += `data: ${payload}${newline}${newline}`;
      }
      const bytes = new TextEncoder().encode(text);
      const events = await parse(randomSplit(bytes, random));
      expect(
        events.map((e) => e.data),
        `round ${round}: ${JSON.stringify(text)}`
      ).to.deep.equal(expected);
    }
  });
});
