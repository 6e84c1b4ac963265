import { ClientGoneError, type UpstreamChatRequest } from "../../domain/chat/chatUpstream";
import { GatewayError } from "../../domain/errors/gatewayError";
import { upstreamRejectedRequest } from "../../domain/errors/gatewayErrors";
import type { UpstreamTarget } from "../../domain/ports";
import { type AttemptFailure, judgeStatus } from "../openai-compatible/attemptFailure";
import { type UpstreamFailureListener, everyUpstreamFailed } from "./failoverOutcome";
import { type AttemptDeps, UpstreamAttempt } from "./upstreamAttempt";

/** What one upstream answered: what the caller serves, or a status other than 200 to be judged. */
export type UpstreamAnswer<T> =
  | { served: T }
  | {
      statusCode: number;
      errorText: string;
      /** Lets go of what the try still holds (a stream's exchange) when its answer is not used. */
      release?(): void;
    };

export interface FailoverSteps<T> {
  /**
   * Sends the request through `attempt`. On a 200 it finishes or hands on the
   * attempt itself and returns what is served; a transport failure throws (and
   * lets go of whatever it opened).
   */
  send(attempt: UpstreamAttempt, target: UpstreamTarget): Promise<UpstreamAnswer<T>>;
  /** The failure a thrown error stands for; by default `attempt.failureFrom`. */
  failureOf?(attempt: UpstreamAttempt, error: unknown): AttemptFailure;
}

/**
 * Tries the candidates in order until one serves the request. Every failure
 * (connection, timeout, 5xx, a broken answer) moves on to the next upstream
 * and is reported to `listener`; an upstream's 400 stops the loop, because any
 * other upstream would reject the same request; a client that went away stops
 * it too. The non-stream and the stream paths differ only in `steps`.
 */
export async function failover<T>(
  request: UpstreamChatRequest,
  deps: AttemptDeps,
  listener: UpstreamFailureListener,
  steps: FailoverSteps<T>
): Promise<T> {
  let attempts = 0;
  let lastFailure: AttemptFailure | null = null;

  for (const target of request.candidates) {
    const attempt = UpstreamAttempt.begin(target, deps, request.signal);
    if (!attempt) continue;
    attempts += 1;
    let answer: UpstreamAnswer<T> | undefined;
    let failure: AttemptFailure;
    try {
      answer = await steps.send(attempt, target);
      if ("served" in answer) return answer.served;
      const judged = judgeStatus(answer.statusCode, answer.errorText);
      if ("clientFault" in judged) {
        attempt.finish("healthy");
        throw upstreamRejectedRequest(judged.clientFault.message, judged.clientFault.param);
      }
      failure = judged.failure;
      attempt.finish(failure.countsAgainstUpstream ? "failed" : "inconclusive");
    } catch (error) {
      if (answer && !("served" in answer)) answer.release?.();
      if (attempt.clientGone) {
        attempt.finish("inconclusive");
        throw new ClientGoneError();
      }
      if (error instanceof GatewayError) throw error;
      failure = steps.failureOf ? steps.failureOf(attempt, error) : attempt.failureFrom(error);
      attempt.finish("failed");
    }
    lastFailure = failure;
    listener.upstreamFailed(target, failure);
  }
  throw everyUpstreamFailed(request.modelId, attempts, lastFailure);
}
