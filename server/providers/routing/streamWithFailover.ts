import {
  ClientGoneError,
  type UpstreamChatRequest,
  type UpstreamChunk,
  type UpstreamChunkStream,
  UpstreamStreamFailure,
} from "../../domain/chat/chatUpstream";
import { GatewayError } from "../../domain/errors/gatewayError";
import { upstreamRejectedRequest } from "../../domain/errors/gatewayErrors";
import type { UpstreamTarget } from "../../domain/ports";
import { type AttemptFailure, judgeStatus } from "../openai-compatible/attemptFailure";
import type { EventStreamExchange } from "../openai-compatible/upstreamExchange";
import { upstreamRequestBody } from "../openai-compatible/upstreamRequestBody";
import { type UpstreamFailureListener, bodyPerUpstreamModel, everyUpstreamFailed } from "./failoverOutcome";
import { type AttemptDeps, UpstreamAttempt } from "./upstreamAttempt";

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
  let attempts = 0;
  let lastFailure: AttemptFailure | null = null;

  for (const target of request.candidates) {
    const attempt = UpstreamAttempt.begin(target, deps, request.signal);
    if (!attempt) continue;
    attempts += 1;
    const exchange = attempt.openStream(bodyFor(target), MAX_ERROR_BODY_BYTES);
    let failure: AttemptFailure;
    try {
      await exchange.opened;
      if (exchange.statusCode === 200) return new CommittedStream(attempt, exchange, listener);
      const judged = judgeStatus(exchange.statusCode, exchange.errorText);
      if ("clientFault" in judged) {
        attempt.finish("healthy");
        throw upstreamRejectedRequest(judged.clientFault.message, judged.clientFault.param);
      }
      failure = judged.failure;
      attempt.finish(failure.countsAgainstUpstream ? "failed" : "inconclusive");
    } catch (error) {
      exchange.release();
      if (attempt.clientGone) {
        attempt.finish("inconclusive");
        throw new ClientGoneError();
      }
      if (error instanceof GatewayError) throw error;
      // Our first-byte timer is checked first: it is what cut a stream that broke before its first chunk.
      failure = attempt.failureFrom(error);
      if (failure.kind !== "timeout" && error instanceof UpstreamStreamFailure) failure = streamFailure(error);
      attempt.finish("failed");
    }
    lastFailure = failure;
    listener.upstreamFailed(target, failure);
  }
  throw everyUpstreamFailed(request.modelId, attempts, lastFailure);
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
