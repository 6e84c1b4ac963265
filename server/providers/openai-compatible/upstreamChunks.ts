import { UpstreamStreamFailure } from "../../domain/chat/chatUpstream";
import type { SseEvent } from "../sse/readSseEvents";

/** After `[DONE]`, how long to wait for the upstream to end its response before dropping the connection. */
const END_AFTER_DONE_MS = 1000;

/**
 * An OpenAI-compatible stream's chunks, parsed. Ends normally only after
 * `[DONE]`; a stream that stops without it, sends an error event or a chunk
 * that is not a JSON object throws an UpstreamStreamFailure, so a cut stream
 * is never mistaken for a finished one.
 *
 * After `[DONE]` the rest of the body is read (normally nothing but its end)
 * so that the connection goes back to the pool instead of being destroyed.
 */
export async function* upstreamChunks(events: AsyncIterable<SseEvent>): AsyncGenerator<Record<string, unknown>> {
  const iterator = events[Symbol.asyncIterator]();
  for (;;) {
    const next = await iterator.next();
    if (next.done) throw new UpstreamStreamFailure("truncated", "The provider's stream ended before [DONE].");
    const { data, event } = next.value;
    if (data === "[DONE]") {
      await drainUntilEnd(iterator);
      return;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new UpstreamStreamFailure("malformed", "The provider sent a stream chunk that is not JSON.");
    }
    if (typeof chunk !== "object" || chunk === null || Array.isArray(chunk)) {
      throw new UpstreamStreamFailure("malformed", "The provider sent a stream chunk that is not a JSON object.");
    }
    const error = (chunk as { error?: unknown }).error;
    if (event === "error" || (error !== undefined && error !== null)) {
      throw new UpstreamStreamFailure(
        "upstream_error",
        `The provider reported an error mid-stream: ${errorText(error ?? chunk)}`
      );
    }
    yield chunk as Record<string, unknown>;
  }
}

async function drainUntilEnd(iterator: AsyncIterator<SseEvent>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), END_AFTER_DONE_MS);
  });
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), deadline]);
      if (next === "late" || next.done) break;
    }
  } catch {
    // Whatever follows [DONE] cannot change a finished stream.
  } finally {
    clearTimeout(timer);
  }
  // Still open past the deadline: stop reading (the connection is closed rather than reused).
  void iterator.return?.();
}

function errorText(error: unknown): string {
  if (typeof error === "string") return error.slice(0, 500);
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" ? message.slice(0, 500) : "unknown error";
}
