import { CompletionTranscript } from "../metering/completionTranscript";
import { estimatedUsageObject, meterUsage } from "../metering/meterUsage";
import { readReportedUsage } from "../metering/reportedUsage";
import type { AdmittedChatCompletion } from "./admitChatCompletion";
import type { ChatCompletionDeps } from "./chatCompletionDeps";
import { settleChatCompletion } from "./settleChatCompletion";

/**
 * A non-stream completion: the upstream's body as it came (id, choices,
 * usage with its details), the model renamed to the network's id, and a
 * `usage` of our own count when the upstream gave none. Billed before it is
 * returned. A failure before the upstream answered throws, with nothing billed.
 */
export async function completeChatCompletion(
  deps: ChatCompletionDeps,
  admitted: AdmittedChatCompletion,
  clientBody: Record<string, unknown>,
  signal: AbortSignal
): Promise<Record<string, unknown>> {
  const served = await deps.router.complete({
    modelId: admitted.model.id,
    candidates: admitted.candidates,
    body: clientBody,
    signal,
  });
  const response = served.body;
  const reported = readReportedUsage(response.usage);
  const metered = meterUsage(reported, admitted.budget, () => {
    const transcript = new CompletionTranscript();
    transcript.addChoices(response.choices);
    return transcript.countTokens();
  });
  response.model = admitted.model.id;
  if (!reported) response.usage = estimatedUsageObject(metered);

  await settleChatCompletion(deps, admitted, {
    target: served.target,
    metered,
    // The answer was received in full: the provider did the work even if the client has gone.
    outcome: signal.aborted ? "client_disconnected" : "completed",
    stream: false,
  });
  return response;
}
