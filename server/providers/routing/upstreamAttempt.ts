import type { Readable } from "node:stream";
import type { Dispatcher } from "undici";
import type { UpstreamTimeouts } from "../../config";
import type { UpstreamTarget } from "../../domain/ports";
import { type AttemptFailure, failureFromError } from "../openai-compatible/attemptFailure";
import { discardBody } from "../openai-compatible/discardBody";
import { type UpstreamEndpoint, endpointOf } from "../openai-compatible/upstreamEndpoint";
import type { UpstreamPools } from "../openai-compatible/upstreamPools";
import type { UpstreamState, UpstreamStates } from "./upstreamStates";

export interface AttemptDeps {
  states: UpstreamStates;
  pools: UpstreamPools;
  timeouts: UpstreamTimeouts;
  now: () => number;
}

/**
 * How an attempt ended, for the circuit breaker: "healthy" (it answered, even
 * if the answer was the client's 400), "failed", or "inconclusive" (busy, or
 * the client left before we learnt anything).
 */
export type AttemptVerdict = "healthy" | "failed" | "inconclusive";

/**
 * One request to one upstream: claims the breaker, counts itself in flight,
 * enforces the first-byte timeout, and is cancelled with the client's own
 * signal when the client goes away. `finish` settles it exactly once,
 * whatever path ends it.
 *
 * The first-byte timeout is undici's `headersTimeout` (no timer or
 * AbortController of our own on the hot path); a stream, whose headers come
 * before its first event, gets a timer only for the wait after its headers.
 */
export class UpstreamAttempt {
  readonly endpoint: UpstreamEndpoint;
  private readonly startedAtMs: number;
  private firstByteTimedOut = false;
  private firstByteMs: number | null = null;
  private finished = false;

  /** Null when the upstream's circuit refuses the request (another request is its half-open trial). */
  static begin(target: UpstreamTarget, deps: AttemptDeps, clientSignal: AbortSignal): UpstreamAttempt | null {
    const state = deps.states.get(target.id);
    if (!state.breaker.tryAcquire()) return null;
    return new UpstreamAttempt(target, state, deps, clientSignal);
  }

  private constructor(
    readonly target: UpstreamTarget,
    private readonly state: UpstreamState,
    private readonly deps: AttemptDeps,
    private readonly clientSignal: AbortSignal
  ) {
    this.endpoint = endpointOf(target);
    this.startedAtMs = deps.now();
    state.inFlight += 1;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  get clientGone(): boolean {
    return this.clientSignal.aborted;
  }

  send(json: string, stream: boolean): Promise<Dispatcher.ResponseData> {
    const { firstByteMs, idleMs } = this.deps.timeouts;
    return this.deps.pools.poolFor(this.endpoint.origin).request({
      method: "POST",
      path: this.endpoint.chatCompletionsPath,
      headers: stream ? this.endpoint.streamHeaders : this.endpoint.jsonHeaders,
      body: json,
      signal: this.clientSignal,
      headersTimeout: firstByteMs,
      bodyTimeout: idleMs,
    });
  }

  /**
   * Waits for a stream's first event within what is left of the first-byte
   * timeout; past it the body is dropped, which makes `first` reject.
   */
  async withinFirstByteTimeout<T>(first: Promise<T>, body: Readable): Promise<T> {
    const leftMs = this.deps.timeouts.firstByteMs - (this.deps.now() - this.startedAtMs);
    const timer = setTimeout(() => {
      this.firstByteTimedOut = true;
      discardBody(body);
    }, Math.max(0, leftMs));
    try {
      return await first;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The upstream started answering: remember how long it took. */
  firstByteArrived(): void {
    this.firstByteMs = this.deps.now() - this.startedAtMs;
  }

  failureFrom(error: unknown): AttemptFailure {
    return failureFromError(error, this.firstByteTimedOut, this.deps.timeouts.firstByteMs);
  }

  finish(verdict: AttemptVerdict): void {
    if (this.finished) return;
    this.finished = true;
    this.state.inFlight -= 1;
    if (verdict === "failed") {
      this.state.breaker.onFailure();
    } else if (verdict === "inconclusive") {
      this.state.breaker.onAbandoned();
    } else {
      this.state.breaker.onSuccess();
      // Only answers teach latency: an upstream that fails fast must not look fast.
      if (this.firstByteMs !== null) this.deps.states.recordLatency(this.target.id, this.firstByteMs);
    }
  }
}
