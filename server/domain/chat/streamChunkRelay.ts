import { randomBytes } from "node:crypto";
import { CompletionTranscript } from "../metering/completionTranscript";
import { type MeteredUsage, estimatedUsageObject } from "../metering/meterUsage";
import { type ReportedUsage, readReportedUsage } from "../metering/reportedUsage";
import type { UpstreamChunk } from "./chatUpstream";
import { TopLevelRewrite } from "./topLevelRewrite";

/**
 * Turns an upstream's chunks into the client's, one at a time:
 * - every chunk gets the same `id` and `created` (the first chunk's, as
 *   OpenAI's are) and the network's model id;
 * - the upstream's usage (always asked for) is taken out of the stream and
 *   kept for billing; the client gets it in a final `choices: []` chunk only
 *   if it asked with `stream_options.include_usage`, and then, like OpenAI,
 *   `usage: null` on the other chunks;
 * - the generated text is collected in case the upstream reports no usage.
 *
 * The chunk's text is relayed with those members rewritten in place
 * (`TopLevelRewrite`), not serialised again from the parsed object, which is
 * only read (usage, and the text to count).
 */
export class StreamChunkRelay {
  readonly transcript = new CompletionTranscript();
  reportedUsage: ReportedUsage | null = null;
  private upstreamUsage: unknown = null;
  private id: string | undefined;
  private created: number | undefined;
  private rewrite: TopLevelRewrite | undefined;

  constructor(private readonly modelId: string, readonly includeUsage: boolean, private readonly nowMs: () => number) {}

  /** The JSON to send for this chunk, or null when it carries only usage (sent at the end, once billed). */
  accept({ text, parsed: chunk }: UpstreamChunk): string | null {
    const rewrite = this.rewrite ?? this.firstChunk(chunk);
    const usage = chunk.usage;
    const hasUsage = usage !== undefined && usage !== null;
    if (hasUsage) {
      const reported = readReportedUsage(usage);
      if (reported) {
        this.reportedUsage = reported;
        this.upstreamUsage = usage;
      }
    }
    const choices = chunk.choices;
    if (Array.isArray(choices) && choices.length > 0) this.transcript.addDeltaChoices(choices);
    else if (hasUsage) return null;
    return rewrite.apply(text) ?? this.serialise(chunk);
  }

  /** The final usage chunk: the upstream's usage object as it reported it, or our estimate in the same shape. */
  usageChunk(metered: MeteredUsage): string {
    // What JSON.stringify makes of { id, object, created, model, choices: [], usage }, with only the usage serialised.
    const id = JSON.stringify(this.id ?? newChunkId());
    const created = this.created ?? Math.floor(this.nowMs() / 1000);
    const model = JSON.stringify(this.modelId);
    const usage = JSON.stringify(this.upstreamUsage ?? estimatedUsageObject(metered));
    return `{"id":${id},"object":"chat.completion.chunk","created":${created},"model":${model},"choices":[],"usage":${usage}}`;
  }

  private firstChunk(chunk: Record<string, unknown>): TopLevelRewrite {
    const { id, created } = chunk;
    this.id = typeof id === "string" && id.length > 0 && id.length <= 200 ? id : newChunkId();
    this.created =
      Number.isSafeInteger(created) && (created as number) > 0 ? (created as number) : Math.floor(this.nowMs() / 1000);
    this.rewrite = new TopLevelRewrite([
      { key: "id", json: JSON.stringify(this.id), addIfAbsent: true },
      { key: "created", json: String(this.created), addIfAbsent: true },
      { key: "model", json: JSON.stringify(this.modelId), addIfAbsent: true },
      // Only where the upstream put it: null when the client asked for usage (OpenAI's shape), else gone.
      { key: "usage", json: this.includeUsage ? "null" : null, addIfAbsent: false },
    ]);
    return this.rewrite;
  }

  /** The same chunk, serialised from its parsed form (for text the rewrite cannot read; not expected). */
  private serialise(chunk: Record<string, unknown>): string {
    const copy: Record<string, unknown> = { ...chunk, id: this.id, created: this.created, model: this.modelId };
    if ("usage" in chunk) copy.usage = this.includeUsage ? null : undefined;
    return JSON.stringify(copy);
  }
}

function newChunkId(): string {
  return `chatcmpl-${randomBytes(12).toString("base64url")}`;
}
