import {
  ClientGoneError,
  type UpstreamChatRequest,
  type UpstreamChunk,
  type UpstreamChunkStream,
  UpstreamStreamFailure,
} from "../../domain/chat/chatUpstream";
import type { UpstreamTarget } from "../../domain/ports";
import type { AttemptFailure } from "../openai-compatible/attemptFailure";
import type { EventStreamExchange } from "../openai-compatible/upstreamExchange";
import { upstreamRequestBody } from "../openai-compatible/upstreamRequestBody";
import { type UpstreamFailureListener, bodyPerUpstreamModel } from "./failoverOutcome";
import { failover } from "./failoverLoop";
import type { AttemptDeps, UpstreamAttempt } from "./upstreamAttempt";

const MAX_ERROR_BODY_BYTES = 16 * 1024;

/**
 * A streaming completion: tries the candidates in order until one has sent its
 * first chunk. Until then nothing has reached the client, so a connection
 * error, a timeout (no first chunk within the first-byte timeout), a 5xx or a
 * stream that breaks before its first chunk moves on to the next upstream.
 * From the first chunk on, the upstream is committed to: a later failure is
 * thrown by `read` and becomes an error event for the client.
 */
export async function streamWithFailover(
  request: UpstreamChatRequest,
  deps: AttemptDeps,
  listener: UpstreamFailureListener
): Promise<UpstreamChunkStream> {
  const bodyFor = bodyPerUpstreamModel((model) => upstreamRequestBody(request.body, model, true));
  return failover<UpstreamChunkStream>(request, deps, listener, {
    send: async (attempt, target) => {
      const exchange = attempt.openStream(bodyFor(target), MAX_ERROR_BODY_BYTES);
      try {
        await exchange.opened;
      } catch (error) {
        exchange.release();
        throw error;
      }
      if (exchange.statusCode === 200) return { served: new CommittedStream(attempt, exchange, listener) };
      return { statusCode: exchange.statusCode, errorText: exchange.errorText, release: () => exchange.release() };
    },
    failureOf: (attempt, error) => {
      // Our first-byte timer is checked first: it is what cut a stream that broke before its first chunk.
      const failure = attempt.failureFrom(error);
      return failure.kind !== "timeout" && error instanceof UpstreamStreamFailure ? streamFailure(error) : failure;
    },
  });
}

/**
 * The committed stream. It settles the attempt when the consumer is done with
 * it: `[DONE]` is a success; a failure counts against the upstream and is
 * thrown as an UpstreamStreamFailure; a consumer that stops early (the client
 * left) is neither, and the request is aborted so the upstream stops
 * generating.
 */
class CommittedStream implements UpstreamChunkStream {
  readonly target: UpstreamTarget;

  constructor(
    private readonly attempt: UpstreamAttempt,
    private readonly exchange: EventStreamExchange,
    private readonly listener: UpstreamFailureListener
  ) {
    this.target = attempt.target;
  }

  read(): Promise<readonly UpstreamChunk[] | null> {
    return this.exchange.read().then(this.onChunks, this.onFailure);
  }

  close(): void {
    if (this.attempt.isFinished) return;
    this.exchange.release();
    this.attempt.finish("inconclusive");
  }

  private readonly onChunks = (chunks: readonly UpstreamChunk[] | null): readonly UpstreamChunk[] | null => {
    if (chunks === null) {
      this.attempt.finish("healthy");
      this.exchange.release();
    }
    return chunks;
  };

  private readonly onFailure = (error: unknown): never => {
    this.exchange.release();
    if (this.attempt.clientGone) {
      this.attempt.finish("inconclusive");
      throw new ClientGoneError();
    }
    const failure = asStreamFailure(error, this.attempt);
    if (!this.attempt.isFinished) {
      this.listener.upstreamFailed(this.attempt.target, streamFailure(failure));
      this.attempt.finish("failed");
    }
    throw failure;
  };
}

function asStreamFailure(error: unknown, attempt: UpstreamAttempt): UpstreamStreamFailure {
  if (error instanceof UpstreamStreamFailure) return error;
  const failure = attempt.failureFrom(error);
  return failure.kind === "timeout"
    ? new UpstreamStreamFailure("timeout", `The provider went silent mid-stream (${failure.reason}).`)
    : new UpstreamStreamFailure("connection", `The provider's connection broke mid-stream (${failure.reason}).`);
}

function streamFailure(error: UpstreamStreamFailure): AttemptFailure {
  return {
    kind: error.kind === "timeout" ? "timeout" : error.kind === "malformed" ? "protocol" : "connection",
    status: null,
    reason: error.message,
    countsAgainstUpstream: true,
  };
}
