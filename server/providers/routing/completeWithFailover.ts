import type { UpstreamChatRequest, UpstreamCompletion } from "../../domain/chat/chatUpstream";
import { UpstreamProtocolError } from "../openai-compatible/attemptFailure";
import { upstreamRequestBody } from "../openai-compatible/upstreamRequestBody";
import { type UpstreamFailureListener, bodyPerUpstreamModel } from "./failoverOutcome";
import { failover } from "./failoverLoop";
import type { AttemptDeps } from "./upstreamAttempt";

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
  return failover<UpstreamCompletion>(request, deps, listener, {
    send: async (attempt, target) => {
      const response = await attempt.fetchText(bodyFor(target), MAX_RESPONSE_BYTES, MAX_ERROR_BODY_BYTES);
      if (response.statusCode !== 200) return { statusCode: response.statusCode, errorText: response.text };
      const body = parseJsonObject(response.text);
      attempt.finish("healthy");
      return { served: { target, body, text: response.text } };
    },
  });
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
