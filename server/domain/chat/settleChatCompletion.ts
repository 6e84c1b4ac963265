import type { MeteredUsage } from "../metering/meterUsage";
import type { UpstreamTarget, UsageRecordInput } from "../ports";
import { costMicros } from "../types";
import type { AdmittedChatCompletion } from "./admitChatCompletion";
import type { ChatCompletionDeps } from "./chatCompletionDeps";
import { correctTokenCharge } from "./rateLimitCorrection";

export interface ServedChatCompletion {
  target: UpstreamTarget;
  metered: MeteredUsage;
  outcome: UsageRecordInput["outcome"];
  stream: boolean;
}

/**
 * Bills a request that reached an upstream: one ledger transaction records the
 * usage at its exact cost and releases the hold. Called before the client's
 * response is finished, so every response a client received has its record.
 */
export async function settleChatCompletion(
  deps: ChatCompletionDeps,
  admitted: AdmittedChatCompletion,
  served: ServedChatCompletion
): Promise<void> {
  const { metered } = served;
  await admitted.held.commit({
    requestId: admitted.requestId,
    holdId: admitted.held.hold.id,
    account: admitted.key.account,
    keyId: admitted.key.id,
    modelId: admitted.model.id,
    providerAddress: served.target.providerAddress,
    upstreamId: served.target.id,
    usage: metered.billed,
    cachedPromptTokens: metered.cachedPromptTokens,
    reasoningTokens: metered.reasoningTokens,
    costMicros: costMicros(metered.billed, admitted.model),
    estimated: metered.estimated,
    outcome: served.outcome,
    stream: served.stream,
    latencyMs: Math.max(0, Math.round(deps.now() - admitted.startedAtMs)),
  });
  deps.observer.usageRecorded(admitted.model.id, metered);
  if (metered.capped) {
    deps.logger.warn(
      { requestId: admitted.requestId, upstreamId: served.target.id, billed: metered.billed },
      "upstream reported more tokens than the request's budget; the excess was not billed"
    );
  }
  correctTokenCharge(
    deps,
    admitted.key,
    admitted.budget,
    metered.billed.promptTokens + metered.billed.completionTokens
  );
}

/** Ends a request that is not settled (refused upstream, failed, client gone before any answer): nothing billed. */
export async function abandonChatCompletion(deps: ChatCompletionDeps, admitted: AdmittedChatCompletion): Promise<void> {
  if (!admitted.held.isOpen) return;
  await admitted.held.release();
  correctTokenCharge(deps, admitted.key, admitted.budget, 0);
}
