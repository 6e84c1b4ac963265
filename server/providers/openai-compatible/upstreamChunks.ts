import { UpstreamStreamFailure } from "../../domain/chat/chatUpstream";
import type { SseEvent } from "../sse/readSseEvents";

/** The data of the event that ends an OpenAI-compatible stream. */
export const DONE = "[DONE]";

/**
 * One event of an OpenAI-compatible stream (other than `[DONE]`), parsed: a
 * chunk must be a JSON object; an error event or a chunk carrying `error`
 * ends the stream. Throws an UpstreamStreamFailure for either.
 */
export function parseUpstreamChunk(data: string, event: string | undefined): Record<string, unknown> {
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
  return chunk as Record<string, unknown>;
}

/** The failure of a stream whose body ended before `[DONE]`. */
export function truncatedStream(): UpstreamStreamFailure {
  return new UpstreamStreamFailure("truncated", "The provider's stream ended before [DONE].");
}

/**
 * An OpenAI-compatible stream's chunks, parsed, from an async source of
 * events: ends normally at `[DONE]` (what follows is ignored); a stream that
 * stops without it, sends an error event or a chunk that is not a JSON object
 * throws an UpstreamStreamFailure, so a cut stream is never mistaken for a
 * finished one. The gateway's own upstream streams apply the same rules
 * synchronously, per network read (`EventStreamExchange`).
 */
export async function* upstreamChunks(events: AsyncIterable<SseEvent>): AsyncGenerator<Record<string, unknown>> {
  for await (const { data, event } of events) {
    if (data === DONE) return;
    yield parseUpstreamChunk(data, event);
  }
  throw truncatedStream();
}

function errorText(error: unknown): string {
  if (typeof error === "string") return error.slice(0, 500);
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" ? message.slice(0, 500) : "unknown error";
}
