import { SseParser } from "./sseParser";

/** One server-sent event: its `event:` name, if any, and its `data:` lines joined by "\n". */
export interface SseEvent {
  event: string | undefined;
  data: string;
}

/**
 * The events of an async byte source, with SseParser's rules (see there).
 * The gateway's upstream streams feed SseParser directly from undici's
 * handler; this form suits a source that is already an async iterable.
 */
export async function* readSseEvents(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent> {
  const events: SseEvent[] = [];
  const parser = new SseParser((data, event) => events.push({ event, data }));
  for await (const chunk of source) {
    parser.push(chunk);
    if (events.length > 0) yield* events.splice(0);
  }
  parser.end();
  yield* events;
}
