import { ClientGoneError, type UpstreamChatRequest, type UpstreamCompletion } from "../../domain/chat/chatUpstream";
import { GatewayError } from "../../domain/errors/gatewayError";
import { upstreamRejectedRequest } from "../../domain/errors/gatewayErrors";
import { type AttemptFailure, UpstreamProtocolError, judgeStatus } from "../openai-compatible/attemptFailure";
import { upstreamRequestBody } from "../openai-compatible/upstreamRequestBody";
import { type UpstreamFailureListener, bodyPerUpstreamModel, everyUpstreamFailed } from "./failoverOutcome";
import { type AttemptDeps, UpstreamAttempt } from "./upstreamAttempt";

const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const MAX_ERROR_BODY_BYTES = 16 * 1024;

/**
 * A non-stream completion: tries the candidates in order and returns the first
 * 200 with a JSON object body. Nothing has reached the client until this
 * returns, so every failure (connection, timeout, 5xx, a body that is not
 * JSON) moves on to the next upstream; only an upstream's 400 stops the loop,
 * because any other upstream would reject the same request.
 */
export async function completeWithFailover(
  request: UpstreamChatRequest,
  deps: AttemptDeps,
  listener: UpstreamFailureListener
): Promise<UpstreamCompletion> {
  const bodyFor = bodyPerUpstreamModel((model) => upstreamRequestBody(request.body, model, false));
  let attempts = 0;
  let lastFailure: AttemptFailure | null = null;

  for (const target of request.candidates) {
    const attempt = UpstreamAttempt.begin(target, deps, request.signal);
    if (!attempt) continue;
    attempts += 1;
    let failure: AttemptFailure;
    try {
      const response = await attempt.fetchText(bodyFor(target), MAX_RESPONSE_BYTES, MAX_ERROR_BODY_BYTES);
      if (response.statusCode === 200) {
        const body = parseJsonObject(response.text);
        attempt.finish("healthy");
        return { target, body, text: response.text };
      }
      const judged = judgeStatus(response.statusCode, response.text);
      if ("clientFault" in judged) {
        attempt.finish("healthy");
        throw upstreamRejectedRequest(judged.clientFault.message, judged.clientFault.param);
      }
      failure = judged.failure;
      attempt.finish(failure.countsAgainstUpstream ? "failed" : "inconclusive");
    } catch (error) {
      if (attempt.clientGone) {
        attempt.finish("inconclusive");
        throw new ClientGoneError();
      }
      if (error instanceof GatewayError) throw error;
      failure = attempt.failureFrom(error);
      attempt.finish("failed");
    }
    lastFailure = failure;
    listener.upstreamFailed(target, failure);
  }
  throw everyUpstreamFailed(request.modelId, attempts, lastFailure);
}

function parseJsonObject(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UpstreamProtocolError("the response is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UpstreamProtocolError("the response is not a JSON object");
  }
  return parsed as Record<string, unknown>;
}
