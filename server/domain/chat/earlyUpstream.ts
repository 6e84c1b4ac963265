import type { ChatCompletionDeps } from "./chatCompletionDeps";
import type { ClientSignal, UpstreamChunkStream, UpstreamCompletion } from "./chatUpstream";
import type { ScreenedChatCompletion } from "./admitChatCompletion";

/**
 * Aborted when the client goes away, or when the gateway calls the upstream
 * request off itself (a hold refused after the request had started).
 */
export class UpstreamSignal implements ClientSignal {
  aborted = false;
  private listeners: (() => void)[] = [];
  private readonly onClientGone = () => this.abort();

  constructor(private readonly client: ClientSignal) {
    if (client.aborted) this.aborted = true;
    else client.addEventListener("abort", this.onClientGone);
  }

  addEventListener(_type: "abort", listener: () => void): void {
    if (!this.aborted) this.listeners.push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const at = this.listeners.indexOf(listener);
    if (at !== -1) this.listeners.splice(at, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener();
  }

  /** Stops following the client (the request is done with). */
  dispose(): void {
    this.client.removeEventListener("abort", this.onClientGone);
    this.listeners = [];
  }
}

/** An upstream request started before its hold was placed. */
export interface EarlyUpstream {
  completion?: Promise<UpstreamCompletion>;
  stream?: Promise<UpstreamChunkStream>;
  /** Calls it off (its hold was refused): the upstream request is aborted, an opened stream let go. */
  cancel(): void;
}

/**
 * Starts the screened request's upstream call at once, to overlap the ledger's
 * round trip for its hold (what a lone request waits for twice otherwise:
 * hold, then upstream). Only for `overlapHold` requests, whose hold is all
 * but certain. The caller sends nothing to the client before the hold is
 * placed, and cancels this if the hold is refused.
 *
 * The promises get a no-op rejection handler here: they may fail (a 502 from
 * every upstream) while the hold is still in flight, before anyone awaits them.
 */
export function startUpstreamEarly(
  deps: ChatCompletionDeps,
  screened: ScreenedChatCompletion,
  clientBody: Record<string, unknown>,
  signal: UpstreamSignal,
  stream: boolean
): EarlyUpstream {
  const request = { modelId: screened.model.id, candidates: screened.candidates, body: clientBody, signal };
  if (stream) {
    const opening = deps.router.stream(request);
    opening.catch(ignore);
    return {
      stream: opening,
      cancel: () => {
        signal.abort();
        opening.then((opened) => opened.close(), ignore);
      },
    };
  }
  const completion = deps.router.complete(request);
  completion.catch(ignore);
  return { completion, cancel: () => signal.abort() };
}

function ignore(): void {}
