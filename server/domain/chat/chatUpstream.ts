import type { UpstreamTarget } from "../ports";

/**
 * What the chat use case needs from the provider side. `server/providers`
 * implements it (routing, failover, the wire protocol); tests may fake it.
 * Failures before anything reached the client are thrown as GatewayErrors
 * (400 passed through from the upstream, 502/504 when every upstream failed).
 */
export interface ChatUpstreamRouter {
  /** The upstreams that may serve `modelId` right now, best first; empty when none is fit. */
  candidatesFor(modelId: string): Promise<UpstreamTarget[]>;
  /** A non-stream completion from the first candidate that answers. */
  complete(request: UpstreamChatRequest): Promise<UpstreamCompletion>;
  /** A stream from the first candidate that produces a first chunk; later failures surface while iterating. */
  stream(request: UpstreamChatRequest): Promise<UpstreamChunkStream>;
}

export interface UpstreamChatRequest {
  modelId: string;
  candidates: readonly UpstreamTarget[];
  /** The client's body, as received; the router substitutes the upstream's model name and, for streams, asks for usage. */
  body: Record<string, unknown>;
  /** Aborted when the client goes away: the upstream request is cancelled. */
  signal: ClientSignal;
}

/**
 * The client's side of a request: whether it has gone away, and a way to hear
 * it go. The HTTP layer's disconnect watcher implements it without an
 * AbortController; an AbortSignal fits it too.
 */
export interface ClientSignal {
  readonly aborted: boolean;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

export interface UpstreamCompletion {
  target: UpstreamTarget;
  /** The upstream's JSON response, parsed (a JSON object). */
  body: Record<string, unknown>;
  /** The text `body` was parsed from, as the upstream sent it. */
  text: string;
}

/** One chunk of an upstream stream: the JSON text of its event, as received, and the object parsed from it. */
export interface UpstreamChunk {
  readonly text: string;
  readonly parsed: Record<string, unknown>;
}

export interface UpstreamChunkStream {
  target: UpstreamTarget;
  /**
   * The next chunks: every chunk received since the last call (all those of
   * one network read come together), waiting for the next read if there are
   * none; the first call returns at least the first chunk. Null once the
   * upstream has sent `[DONE]`. Anything else (a cut connection, silence past
   * the idle timeout, an error event, a chunk that is not JSON) throws an
   * UpstreamStreamFailure, after the chunks that came before it.
   */
  read(): Promise<readonly UpstreamChunk[] | null>;
  /**
   * Lets go of the upstream if the reading did not run to its end (or never
   * started): its request is aborted and it stops counting as in flight.
   * Called once the consumer is done, however it ended; a no-op after `[DONE]`.
   */
  close(): void;
}

export type UpstreamStreamFailureKind = "truncated" | "timeout" | "connection" | "malformed" | "upstream_error";

/** A stream that broke after it had started: the client gets an error event, and what was delivered is billed. */
export class UpstreamStreamFailure extends Error {
  constructor(readonly kind: UpstreamStreamFailureKind, message: string) {
    super(message);
    this.name = "UpstreamStreamFailure";
  }
}

/** Thrown when the client went away before the upstream answered; nothing is sent back to anyone. */
export class ClientGoneError extends Error {
  constructor() {
    super("The client closed the connection");
    this.name = "ClientGoneError";
  }
}
