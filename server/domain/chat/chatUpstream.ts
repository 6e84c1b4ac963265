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
  signal: AbortSignal;
}

export interface UpstreamCompletion {
  target: UpstreamTarget;
  /** The upstream's JSON response, parsed. */
  body: Record<string, unknown>;
}

export interface UpstreamChunkStream {
  target: UpstreamTarget;
  /**
   * The upstream's chunks, parsed, the first already received. The iteration
   * ends normally only after the upstream's `[DONE]`; anything else (a cut
   * connection, silence past the idle timeout, an error event, a chunk that is
   * not JSON) throws an UpstreamStreamFailure.
   */
  chunks: AsyncIterable<Record<string, unknown>>;
  /**
   * Lets go of the upstream if the iteration did not run to its end (or never
   * started): its body is dropped and it stops counting as in flight. Called
   * once the consumer is done, however it ended; a no-op after a full iteration.
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
