import { streamBroken, internalError } from "../errors/gatewayErrors";
import type { GatewayError } from "../errors/gatewayError";
import { meterUsage } from "../metering/meterUsage";
import type { AdmittedChatCompletion } from "./admitChatCompletion";
import type { ChatCompletionDeps } from "./chatCompletionDeps";
import { type ClientSignal, type UpstreamChunkStream, UpstreamStreamFailure } from "./chatUpstream";
import { settleChatCompletion } from "./settleChatCompletion";
import { StreamChunkRelay } from "./streamChunkRelay";

/** Where a stream's events go: the HTTP layer's server-sent events writer. */
export interface ChunkSink {
  /** True once the client has closed its connection. */
  readonly clientGone: boolean;
  /** Sends the status and headers: from here on, errors can only be events. */
  open(): void;
  /**
   * Sends one event per JSON text, in one write. False when the client is not
   * keeping up: wait for `drained()` before writing more.
   */
  write(jsons: readonly string[]): boolean;
  /** Resolves once the client has taken what was written (or has gone). */
  drained(): Promise<void>;
  send(json: string): Promise<void>;
  sendDone(): Promise<void>;
  sendError(error: GatewayError): Promise<void>;
  /** Ends the response; safe to call more than once. */
  close(): void;
}

/**
 * A streaming completion. Until the upstream's first chunk nothing is sent, so
 * a failure is still a plain JSON error with its status (thrown from here).
 * After it, the stream always ends in one of two ways: `data: [DONE]` when the
 * upstream finished and the usage is recorded, or one `data: {"error": …}`
 * event and no `[DONE]` (what OpenAI does: the SDKs throw on it, and a client
 * that waits for [DONE] never mistakes a broken answer for a whole one).
 *
 * Billing happens before the end is sent: the usage the upstream reported, or
 * our count of the text it delivered (also when the client left mid-way: the
 * upstream request is cancelled and what was generated until then is billed).
 *
 * `early`: the upstream stream, already opening while the hold was placed.
 */
export async function streamChatCompletion(
  deps: ChatCompletionDeps,
  admitted: AdmittedChatCompletion,
  clientBody: Record<string, unknown>,
  signal: ClientSignal,
  sink: ChunkSink,
  early?: Promise<UpstreamChunkStream>
): Promise<void> {
  const opened = await (early ??
    deps.router.stream({
      modelId: admitted.model.id,
      candidates: admitted.candidates,
      body: clientBody,
      signal,
    }));
  const relay = new StreamChunkRelay(
    admitted.model.id,
    admitted.request.stream_options?.include_usage === true,
    deps.now
  );
  try {
    let failure: UpstreamStreamFailure | null = null;
    try {
      sink.open();
      // One turn per upstream read: its chunks are relayed synchronously, in one write.
      const out: string[] = [];
      for (;;) {
        const chunks = await opened.read();
        if (chunks === null) break;
        for (let i = 0; i < chunks.length; i++) {
          const json = relay.accept(chunks[i]);
          if (json !== null) out.push(json);
        }
        if (out.length > 0) {
          const keepingUp = sink.write(out);
          out.length = 0;
          if (!keepingUp && !sink.clientGone) await sink.drained();
        }
        if (sink.clientGone) break;
      }
    } catch (error) {
      if (error instanceof UpstreamStreamFailure) failure = error;
      else if (!sink.clientGone && !signal.aborted) {
        deps.logger.error({ err: error, requestId: admitted.requestId }, "stream relay failed");
        failure = new UpstreamStreamFailure("connection", "The stream failed.");
      }
    }
    const clientGone = sink.clientGone || signal.aborted;
    const metered = meterUsage(relay.reportedUsage, admitted.budget, () => relay.transcript.countTokens());
    let settled = true;
    try {
      await settleChatCompletion(deps, admitted, {
        target: opened.target,
        metered,
        outcome: clientGone ? "client_disconnected" : failure ? "upstream_error" : "completed",
        stream: true,
      });
    } catch {
      settled = false;
    }
    if (clientGone) return;
    if (settled && relay.includeUsage) await sink.send(relay.usageChunk(metered));
    if (!settled) await sink.sendError(internalError());
    else if (failure) await sink.sendError(streamBroken(failure.kind, failure.message));
    else await sink.sendDone();
  } finally {
    opened.close();
    sink.close();
  }
}
