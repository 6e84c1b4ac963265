import type { ServerResponse } from "node:http";
import type { ClientSignal } from "../../domain/chat/chatUpstream";

/**
 * Fires when the client closes its connection before the response is
 * finished: the upstream request is cancelled through it, so nobody pays for
 * tokens generated into the void.
 *
 * A plain flag and a short list of callbacks (in practice one: the upstream
 * attempt in flight) rather than an AbortController, whose EventTarget costs
 * more than the whole watch.
 *
 * The watch starts after admission (the hold is placed by then), and a client
 * may already have gone while the hold was being reserved: its `close` event
 * has fired and will not fire again, so a connection found closed aborts at once.
 */
export class ClientDisconnect implements ClientSignal {
  aborted = false;
  private listeners: (() => void)[] | null = null;
  private readonly onClose = () => {
    if (!this.res.writableFinished) this.abort();
  };

  constructor(private readonly res: ServerResponse) {
    if (clientHasGone(res)) this.aborted = true;
    else res.on("close", this.onClose);
  }

  /** The signal to pass on: the watch itself. */
  get signal(): ClientSignal {
    return this;
  }

  addEventListener(_type: "abort", listener: () => void): void {
    if (this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const listeners = this.listeners;
    if (!listeners) return;
    const at = listeners.indexOf(listener);
    if (at !== -1) listeners.splice(at, 1);
  }

  /** Stops watching (the response is done with). */
  dispose(): void {
    this.res.off("close", this.onClose);
    this.listeners = null;
  }

  private abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = null;
    if (listeners) for (const listener of listeners) listener();
  }
}

export function watchClientDisconnect(res: ServerResponse): ClientDisconnect {
  return new ClientDisconnect(res);
}

/** Whether the connection under `res` is closed while the response is still unfinished. */
export function clientHasGone(res: ServerResponse): boolean {
  if (res.writableFinished) return false;
  // No socket yet is not a closed one: a pipelined response waits for its turn without one.
  return res.destroyed || res.closed || res.socket?.destroyed === true;
}
