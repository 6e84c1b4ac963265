import type { Readable } from "node:stream";

const ignore = () => undefined;

/**
 * Stops reading an upstream body and frees its connection. undici reports a
 * body destroyed before its end as an 'error' event; nobody may be listening
 * by then, and an unheard 'error' would crash the process.
 */
export function discardBody(body: Readable): void {
  if (body.destroyed) return;
  body.on("error", ignore);
  body.destroy();
}
