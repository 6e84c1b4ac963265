import { CircuitBreaker } from "./circuitBreaker";

export type UpstreamHealth = "unknown" | "up" | "down";

/** What the router knows about one upstream, from its own requests and the health checker. */
export interface UpstreamState {
  readonly upstreamId: string;
  /** Requests sent to it and not yet finished (streams count until their last chunk). */
  inFlight: number;
  /** Exponentially weighted time to first byte, ms; null until a request has succeeded. */
  latencyEwmaMs: number | null;
  health: UpstreamHealth;
  readonly breaker: CircuitBreaker;
}

/** Weight of the newest sample: recent enough to notice a slowdown within a few requests, smooth enough to ignore one outlier. */
const EWMA_ALPHA = 0.2;

export interface UpstreamStatesOptions {
  failureThreshold: number;
  cooldownMs: number;
  now?: () => number;
}

/**
 * The per-upstream state of this gateway instance, keyed by upstream id. It is
 * deliberately local: each instance learns health from its own traffic and
 * checks, so no shared store sits on the hot path.
 */
export class UpstreamStates {
  private readonly states = new Map<string, UpstreamState>();

  constructor(private readonly options: UpstreamStatesOptions) {}

  get(upstreamId: string): UpstreamState {
    let state = this.states.get(upstreamId);
    if (!state) {
      state = {
        upstreamId,
        inFlight: 0,
        latencyEwmaMs: null,
        // Unknown counts as routable: a fresh deployment serves before its first health check ends.
        health: "unknown",
        breaker: new CircuitBreaker({
          failureThreshold: this.options.failureThreshold,
          cooldownMs: this.options.cooldownMs,
          now: this.options.now,
        }),
      };
      this.states.set(upstreamId, state);
    }
    return state;
  }

  /** Routable: not known to be down and its circuit would let a request through. */
  isRoutable(upstreamId: string): boolean {
    const state = this.get(upstreamId);
    return state.health !== "down" && state.breaker.isAvailable();
  }

  recordLatency(upstreamId: string, firstByteMs: number): void {
    const state = this.get(upstreamId);
    state.latencyEwmaMs =
      state.latencyEwmaMs === null
        ? firstByteMs
        : state.latencyEwmaMs + EWMA_ALPHA * (firstByteMs - state.latencyEwmaMs);
  }

  setHealth(upstreamId: string, health: UpstreamHealth): void {
    this.get(upstreamId).health = health;
  }

  /** Forgets upstreams that are no longer configured, so the map does not grow forever. */
  retainOnly(upstreamIds: Set<string>): void {
    for (const id of this.states.keys()) {
      if (!upstreamIds.has(id) && this.states.get(id)!.inFlight === 0) this.states.delete(id);
    }
  }
}
