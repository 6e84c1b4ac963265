import type { Dispatcher } from "undici";
import {
  ClientGoneError,
  type UpstreamChatRequest,
  type UpstreamChunkStream,
  UpstreamStreamFailure,
} from "../../domain/chat/chatUpstream";
import { GatewayError } from "../../domain/errors/gatewayError";
import { upstreamRejectedRequest } from "../../domain/errors/gatewayErrors";
import { type AttemptFailure, UpstreamProtocolError, judgeStatus } from "../openai-compatible/attemptFailure";
import { discardBody } from "../openai-compatible/discardBody";
import { readBoundedText } from "../openai-compatible/readBoundedText";
import { upstreamChunks } from "../openai-compatible/upstreamChunks";
import { upstreamRequestBody } from "../openai-compatible/upstreamRequestBody";
import { readSseEvents } from "../sse/readSseEvents";
import { type UpstreamFailureListener, bodyPerUpstreamModel, everyUpstreamFailed } from "./failoverOutcome";
import { type AttemptDeps, UpstreamAttempt } from "./upstreamAttempt";

const MAX_ERROR_BODY_BYTES = 16 * 1024;

/**
 * A streaming completion: tries the candidates in order until one has sent its
 * first chunk. Until then nothing has reached the client, so a connection
 * error, a timeout (no first chunk within the first-byte timeout), a 5xx or a
 * stream that breaks before its first chunk moves on to the next upstream.
 * From the first chunk on, the upstream is committed to: a later failure is
 * thrown by the returned iteration and becomes an error event for the client.
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
    let response: Dispatcher.ResponseData | undefined;
    let failure: AttemptFailure;
    try {
      response = await attempt.send(bodyFor(target), true);
      if (response.statusCode === 200) {
        if (!isEventStream(response.headers["content-type"])) {
          throw new UpstreamProtocolError("the provider answered a stream request without an event stream");
        }
        const chunks = upstreamChunks(readSseEvents(response.body));
        const first = await attempt.withinFirstByteTimeout(chunks.next(), response.body);
        attempt.firstByteArrived();
        const body = response.body;
        return {
          target,
          chunks: followStream(attempt, first, chunks, body, listener),
          close: () => {
            if (attempt.isFinished) return;
            discardBody(body);
            attempt.finish("inconclusive");
          },
        };
      }
      attempt.firstByteArrived();
      const judged = judgeStatus(response.statusCode, await readBoundedText(response.body, MAX_ERROR_BODY_BYTES, true));
      if ("clientFault" in judged) {
        attempt.finish("healthy");
        throw upstreamRejectedRequest(judged.clientFault.message, judged.clientFault.param);
      }
      failure = judged.failure;
      attempt.finish(failure.countsAgainstUpstream ? "failed" : "inconclusive");
    } catch (error) {
      if (response) discardBody(response.body);
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
 * The committed stream, replaying the first chunk. It settles the attempt when
 * the consumer is done with it: a clean end is a success; a failure counts
 * against the upstream and is rethrown as an UpstreamStreamFailure; a consumer
 * that stops early (the client left) is neither, and the body is destroyed so
 * the upstream stops generating.
 */
async function* followStream(
  attempt: UpstreamAttempt,
  first: IteratorResult<Record<string, unknown>>,
  rest: AsyncGenerator<Record<string, unknown>>,
  body: Dispatcher.ResponseData["body"],
  listener: UpstreamFailureListener
): AsyncGenerator<Record<string, unknown>> {
  let verdict: "healthy" | "failed" | "inconclusive" = "inconclusive";
  try {
    if (!first.done) {
      yield first.value;
      for (;;) {
        const next = await rest.next();
        if (next.done) break;
        yield next.value;
      }
    }
    verdict = "healthy";
  } catch (error) {
    if (attempt.clientGone) throw new ClientGoneError();
    verdict = "failed";
    const failure = asStreamFailure(error, attempt);
    listener.upstreamFailed(attempt.target, streamFailure(failure));
    throw failure;
  } finally {
    if (verdict !== "healthy") discardBody(body);
    attempt.finish(verdict);
  }
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

function isEventStream(contentType: string | string[] | undefined): boolean {
  const value = Array.isArray(contentType) ? contentType[0] : contentType;
  return typeof value === "string" && value.toLowerCase().startsWith("text/event-stream");
}
