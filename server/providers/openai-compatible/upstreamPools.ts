import { Pool } from "undici";
import type { UpstreamTimeouts } from "../../config";

/**
 * One undici Pool per upstream origin: connections are kept alive and reused
 * across requests (a new TCP handshake per request would cost more than the
 * gateway's whole budget), and no pool is shared between origins, so a slow
 * upstream cannot starve another's connections.
 */
export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly timeouts: UpstreamTimeouts) {}

  poolFor(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connect: { timeout: this.timeouts.connectMs },
        // Per-request timeouts are set by the caller; these are the fallbacks.
        headersTimeout: this.timeouts.firstByteMs,
        bodyTimeout: this.timeouts.idleMs,
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 600_000,
        pipelining: 1,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => undefined)));
  }
}
