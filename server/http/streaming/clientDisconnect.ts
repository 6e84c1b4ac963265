import type { ServerResponse } from "node:http";

/**
 * An AbortSignal that fires when the client closes its connection before the
 * response is finished: the upstream request is cancelled with it, so nobody
 * pays for tokens generated into the void.
 */
export function watchClientDisconnect(res: ServerResponse): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onClose = () => {
    if (!res.writableFinished) controller.abort();
  };
  res.once("close", onClose);
  return { signal: controller.signal, dispose: () => res.off("close", onClose) };
}
