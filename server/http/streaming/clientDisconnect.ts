import type { ServerResponse } from "node:http";

/**
 * An AbortSignal that fires when the client closes its connection before the
 * response is finished: the upstream request is cancelled with it, so nobody
 * pays for tokens generated into the void.
 *
 * The watch starts after admission (the hold is placed by then), and a client
 * may already have gone while the hold was being reserved: its `close` event
 * has fired and will not fire again, so a connection found closed aborts at once.
 */
export function watchClientDisconnect(res: ServerResponse): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (clientHasGone(res)) {
    controller.abort();
    return { signal: controller.signal, dispose: () => {} };
  }
  const onClose = () => {
    if (!res.writableFinished) controller.abort();
  };
  res.once("close", onClose);
  return { signal: controller.signal, dispose: () => res.off("close", onClose) };
}

/** Whether the connection under `res` is closed while the response is still unfinished. */
export function clientHasGone(res: ServerResponse): boolean {
  if (res.writableFinished) return false;
  // No socket yet is not a closed one: a pipelined response waits for its turn without one.
  return res.destroyed || res.closed || res.socket?.destroyed === true;
}
