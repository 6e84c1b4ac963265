import { CompletionTranscript } from "../metering/completionTranscript";
import { estimatedUsageObject, meterUsage } from "../metering/meterUsage";
import { readReportedUsage } from "../metering/reportedUsage";
import type { AdmittedChatCompletion } from "./admitChatCompletion";
import type { ChatCompletionDeps } from "./chatCompletionDeps";
import type { ClientSignal, UpstreamCompletion } from "./chatUpstream";
import { settleChatCompletion } from "./settleChatCompletion";
import { TopLevelRewrite } from "./topLevelRewrite";

/**
 * A non-stream completion, as the JSON text of the response: the upstream's
 * body as it came (id, choices, usage with its details), the model renamed to
 * the network's id, and a `usage` of our own count when the upstream gave
 * none. Billed before it is returned. A failure before the upstream answered
 * throws, with nothing billed.
 *
 * The upstream's text is passed on with only its top-level `model` rewritten
 * in place; it is serialised anew only when our usage must be added to it.
 *
 * `early`: the upstream call, already started while the hold was placed.
 */
export async function completeChatCompletion(
  deps: ChatCompletionDeps,
  admitted: AdmittedChatCompletion,
  clientBody: Record<string, unknown>,
  signal: ClientSignal,
  early?: Promise<UpstreamCompletion>
): Promise<string> {
  const served = await (early ??
    deps.router.complete({
      modelId: admitted.model.id,
      candidates: admitted.candidates,
      body: clientBody,
      signal,
    }));
  const response = served.body;
  const reported = readReportedUsage(response.usage);
  const metered = meterUsage(reported, admitted.budget, () => {
    const transcript = new CompletionTranscript();
    transcript.addChoices(response.choices);
    return transcript.countTokens();
  });
  let json = reported ? modelRewrite(admitted.model.id).apply(served.text) : null;
  if (json === null) {
    response.model = admitted.model.id;
    if (!reported) response.usage = estimatedUsageObject(metered);
    json = JSON.stringify(response);
  }

  await settleChatCompletion(deps, admitted, {
    target: served.target,
    metered,
    // The answer was received in full: the provider did the work even if the client has gone.
    outcome: signal.aborted ? "client_disconnected" : "completed",
    stream: false,
  });
  return json;
}

/** One rewrite per model id, built once: the model ids are few. */
const modelRewrites = new Map<string, TopLevelRewrite>();

function modelRewrite(modelId: string): TopLevelRewrite {
  let rewrite = modelRewrites.get(modelId);
  if (!rewrite) {
    rewrite = new TopLevelRewrite([{ key: "model", json: JSON.stringify(modelId), addIfAbsent: true }]);
    if (modelRewrites.size >= 1000) modelRewrites.clear();
    modelRewrites.set(modelId, rewrite);
  }
  return rewrite;
}
