import type { Middleware } from "koa";

/**
 * Tracks every request whose handler is still running. A graceful stop must wait
 * for them: Node calls `server.close()`'s callback before the handlers of the
 * connections it cut have finished, and a handler that is still metering a
 * stream must commit its usage before the upstream pools and the ledger close.
 */
export class InFlightRequests {
  private readonly pending = new Set<Promise<unknown>>();

  readonly middleware: Middleware = (_ctx, next) => {
    const handled = next();
    this.pending.add(handled);
    const forget = () => this.pending.delete(handled);
    handled.then(forget, forget);
    return handled;
  };

  get size(): number {
    return this.pending.size;
  }

  /** Resolves when every request in flight now has finished, or after `timeoutMs`, whichever is first. */
  async settled(timeoutMs: number): Promise<void> {
    if (this.pending.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    try {
      await Promise.race([Promise.allSettled([...this.pending]), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
