/** One server-sent event: its `event:` name, if any, and its `data:` lines joined by "\n". */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

/**
 * Splits a byte stream into server-sent events, per the WHATWG rules that
 * matter for OpenAI-compatible upstreams: lines end in "\n", "\r\n" or "\r";
 * a blank line ends an event; `data:` lines accumulate; `:` lines are comments
 * (keep-alives); one space after the colon is dropped. Chunk boundaries may
 * fall anywhere, inside a line, a "\r\n" pair or a UTF-8 character.
 *
 * At the end of the input a pending event without its blank line is still
 * yielded: the caller decides whether that stream was complete (it looks for
 * `[DONE]`), so a truncated stream is reported rather than silently dropped.
 */
export async function* readSseEvents(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder("utf-8");
  let buffer = "";
  let data: string[] = [];
  let event: string | undefined;

  function* takeLines(final: boolean): Generator<SseEvent> {
    let start = 0;
    // Where the next "\r" is, remembered so that a chunk of many "\n" lines is scanned once, not once per line.
    let cr = buffer.indexOf("\r");
    for (;;) {
      if (cr !== -1 && cr < start) cr = buffer.indexOf("\r", start);
      const lf = buffer.indexOf("\n", start);
      const lineEnd = cr === -1 ? lf : lf === -1 ? cr : Math.min(lf, cr);
      if (lineEnd === -1) break;
      // A "\r" at the very end may be the first half of a "\r\n" split across chunks.
      if (buffer.charCodeAt(lineEnd) === CR && lineEnd === buffer.length - 1 && !final) break;
      const line = buffer.slice(start, lineEnd);
      start = lineEnd + (buffer.charCodeAt(lineEnd) === CR && buffer.charCodeAt(lineEnd + 1) === LF ? 2 : 1);
      if (line === "") {
        if (data.length > 0) yield { event, data: data.join("\n") };
        data = [];
        event = undefined;
        continue;
      }
      const colon = line.indexOf(":");
      if (colon === 0) continue;
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.charCodeAt(0) === SPACE) value = value.slice(1);
      if (field === "data") data.push(value);
      else if (field === "event") event = value;
    }
    buffer = buffer.slice(start);
  }

  for await (const chunk of source) {
    buffer += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    yield* takeLines(false);
  }
  buffer += decoder.decode();
  yield* takeLines(true);
  if (buffer !== "") {
    // The last line had no line ending: take it as a line, then end the event.
    buffer += "\n";
    yield* takeLines(true);
  }
  if (data.length > 0) yield { event, data: data.join("\n") };
}

const CR = 13;
const LF = 10;
const SPACE = 32;
