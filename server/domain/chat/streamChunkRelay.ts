import { randomBytes } from "node:crypto";
import { CompletionTranscript } from "../metering/completionTranscript";
import { type MeteredUsage, estimatedUsageObject } from "../metering/meterUsage";
import { type ReportedUsage, readReportedUsage } from "../metering/reportedUsage";

/**
 * Turns an upstream's chunks into the client's, one at a time:
 * - every chunk gets the same `id` and `created` (the first chunk's, as
 *   OpenAI's are) and the network's model id;
 * - the upstream's usage (always asked for) is taken out of the stream and
 *   kept for billing; the client gets it in a final `choices: []` chunk only
 *   if it asked with `stream_options.include_usage`, and then, like OpenAI,
 *   `usage: null` on the other chunks;
 * - the generated text is collected in case the upstream reports no usage.
 */
export class StreamChunkRelay {
  readonly transcript = new CompletionTranscript();
  reportedUsage: ReportedUsage | null = null;
  private upstreamUsage: unknown = null;
  private id: string | undefined;
  private created: number | undefined;

  constructor(private readonly modelId: string, readonly includeUsage: boolean, private readonly nowMs: () => number) {}

  /** The JSON to send for this chunk, or null when it carries only usage (sent at the end, once billed). */
  accept(chunk: Record<string, unknown>): string | null {
    this.stamp(chunk);
    const usage = chunk.usage;
    if (usage !== undefined && usage !== null) {
      const reported = readReportedUsage(usage);
      if (reported) {
        this.reportedUsage = reported;
        this.upstreamUsage = usage;
      }
    }
    const choices = chunk.choices;
    const hasChoices = Array.isArray(choices) && choices.length > 0;
    if (hasChoices) this.transcript.addDeltaChoices(choices);
    else if (usage !== undefined && usage !== null) return null;
    if (usage !== undefined) chunk.usage = this.includeUsage ? null : undefined;
    return JSON.stringify(chunk);
  }

  /** The final usage chunk: the upstream's usage object as it reported it, or our estimate in the same shape. */
  usageChunk(metered: MeteredUsage): string {
    return JSON.stringify({
      id: this.id ?? newChunkId(),
      object: "chat.completion.chunk",
      created: this.created ?? Math.floor(this.nowMs() / 1000),
      model: this.modelId,
      choices: [],
      usage: this.upstreamUsage ?? estimatedUsageObject(metered),
    });
  }

  private stamp(chunk: Record<string, unknown>): void {
    if (this.id === undefined) {
      const { id, created } = chunk;
      this.id = typeof id === "string" && id.length > 0 && id.length <= 200 ? id : newChunkId();
      this.created =
        Number.isSafeInteger(created) && (created as number) > 0
          ? (created as number)
          : Math.floor(this.nowMs() / 1000);
    }
    chunk.id = this.id;
    chunk.created = this.created;
    chunk.model = this.modelId;
  }
}

function newChunkId(): string {
  return `chatcmpl-${randomBytes(12).toString("base64url")}`;
}
