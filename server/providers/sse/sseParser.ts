import { StringDecoder } from "node:string_decoder";

/** Receives each event as soon as its blank line arrives: its `data:` lines joined by "\n", and its `event:` name. */
export type SseEventListener = (data: string, event: string | undefined) => void;

/**
 * Splits a byte stream into server-sent events, synchronously: every event a
 * network read completes is handed to the listener within `push`, so a read
 * that carries many events costs one call, not one promise per event.
 *
 * The WHATWG rules that matter for OpenAI-compatible upstreams: lines end in
 * "\n", "\r\n" or "\r"; a blank line ends an event; `data:` lines accumulate;
 * `:` lines are comments (keep-alives); one space after the colon is dropped;
 * a byte order mark at the very start is skipped. Reads may split the input
 * anywhere: inside a line, a "\r\n" pair or a UTF-8 character.
 *
 * `end` hands over a pending event that lacks its blank line: the caller
 * decides whether that stream was complete (it looks for `[DONE]`), so a
 * truncated stream is reported rather than silently dropped.
 */
export class SseParser {
  private readonly decoder = new StringDecoder("utf8");
  private started = false;
  /** Text received and not yet split into lines (at most a partial line, or a "\r" that may precede a "\n"). */
  private buffer = "";
  /** The pending event's data lines, joined; null before its first `data:` line. */
  private data: string | null = null;
  private event: string | undefined = undefined;

  constructor(private readonly onEvent: SseEventListener) {}

  push(chunk: Uint8Array | string): void {
    let text = typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    if (!this.started && text !== "") {
      this.started = true;
      if (typeof chunk !== "string" && text.charCodeAt(0) === BOM) text = text.slice(1);
    }
    this.buffer = this.buffer === "" ? text : this.buffer + text;
    this.takeLines(false);
  }

  end(): void {
    this.buffer += this.decoder.end();
    this.takeLines(true);
    // The last line had no line ending: take it as a line.
    if (this.buffer !== "") {
      this.buffer += "\n";
      this.takeLines(true);
    }
    this.dispatch();
  }

  private takeLines(final: boolean): void {
    const buffer = this.buffer;
    const length = buffer.length;
    let start = 0;
    // Where the next "\r" is, remembered so that a read of many "\n" lines is scanned once, not once per line.
    let cr = buffer.indexOf("\r");
    for (;;) {
      if (cr !== -1 && cr < start) cr = buffer.indexOf("\r", start);
      const lf = buffer.indexOf("\n", start);
      const lineEnd = cr === -1 ? lf : lf === -1 ? cr : lf < cr ? lf : cr;
      if (lineEnd === -1) break;
      const isCr = lineEnd === cr;
      // A "\r" at the very end may be the first half of a "\r\n" split across reads.
      if (isCr && lineEnd === length - 1 && !final) break;
      const lineStart = start;
      start = lineEnd + (isCr && buffer.charCodeAt(lineEnd + 1) === LF ? 2 : 1);
      if (lineEnd === lineStart) {
        this.dispatch();
        continue;
      }
      const first = buffer.charCodeAt(lineStart);
      if (first === COLON) continue;
      // The two fields that matter, recognised without slicing out the field name.
      if (first === D && buffer.startsWith("data", lineStart)) {
        const value = fieldValue(buffer, lineStart + 4, lineEnd);
        if (value !== null) this.data = this.data === null ? value : `${this.data}\n${value}`;
      } else if (first === E && buffer.startsWith("event", lineStart)) {
        const value = fieldValue(buffer, lineStart + 5, lineEnd);
        if (value !== null) this.event = value;
      }
    }
    this.buffer = start === 0 ? buffer : buffer.slice(start);
  }

  private dispatch(): void {
    const data = this.data;
    const event = this.event;
    this.data = null;
    this.event = undefined;
    if (data !== null) this.onEvent(data, event);
  }
}

/**
 * The value of a field whose name ends at `at`: null if the name goes on
 * (`datax:` is another field), "" for a bare name, else what follows the
 * colon without one leading space.
 */
function fieldValue(buffer: string, at: number, lineEnd: number): string | null {
  if (at === lineEnd) return "";
  if (buffer.charCodeAt(at) !== COLON) return null;
  const from = buffer.charCodeAt(at + 1) === SPACE ? at + 2 : at + 1;
  return buffer.slice(from, lineEnd);
}

const LF = 10;
const SPACE = 32;
const COLON = 58;
const D = 100;
const E = 101;
const BOM = 0xfeff;
