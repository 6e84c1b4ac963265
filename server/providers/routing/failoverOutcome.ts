import type { GatewayError } from "../../domain/errors/gatewayError";
import { noProviderAvailable, upstreamFailed, upstreamTimedOut } from "../../domain/errors/gatewayErrors";
import type { UpstreamTarget } from "../../domain/ports";
import type { AttemptFailure } from "../openai-compatible/attemptFailure";

/** Reported for every failed attempt: metrics count them by provider, logs explain them. */
export interface UpstreamFailureListener {
  upstreamFailed(target: UpstreamTarget, failure: AttemptFailure): void;
}

/** The error after every candidate was tried (or refused by its circuit) without an answer. */
export function everyUpstreamFailed(modelId: string, attempts: number, last: AttemptFailure | null): GatewayError {
  if (attempts === 0 || !last) return noProviderAvailable(modelId);
  return last.kind === "timeout"
    ? upstreamTimedOut(modelId, attempts, last.reason)
    : upstreamFailed(modelId, attempts, last.reason);
}

/** The body for each upstream model name, serialised once however many upstreams are tried. */
export function bodyPerUpstreamModel(build: (upstreamModel: string) => string): (target: UpstreamTarget) => string {
  const bodies = new Map<string, string>();
  return (target) => {
    let body = bodies.get(target.upstreamModel);
    if (body === undefined) {
      body = build(target.upstreamModel);
      bodies.set(target.upstreamModel, body);
    }
    return body;
  };
}
