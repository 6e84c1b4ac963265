import type { UpstreamTimeouts } from "../../config";
import type { ClientSignal } from "../../domain/chat/chatUpstream";
import type { UpstreamTarget } from "../../domain/ports";
import { type AttemptFailure, failureFromError } from "../openai-compatible/attemptFailure";
import { type UpstreamEndpoint, endpointOf } from "../openai-compatible/upstreamEndpoint";
import {
  EventStreamExchange,
  type ExchangeOwner,
  TextExchange,
  type UpstreamText,
} from "../openai-compatible/upstreamExchange";
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
 * enforces the first-byte timeout, and is cancelled when the client goes
 * away. `finish` settles it exactly once, whatever path ends it.
 *
 * The request goes out through undici's `dispatch` with one of the exchanges
 * of `upstreamExchange.ts` as its handler. The first-byte timeout is undici's
 * `headersTimeout` (no timer or AbortController of our own on the hot path);
 * a stream, whose headers come before its first event, gets a timer only for
 * the wait after its headers.
 */
export class UpstreamAttempt implements ExchangeOwner {
  readonly endpoint: UpstreamEndpoint;
  private readonly startedAtMs: number;
  private firstByteTimerFired = false;
  private firstByteMs: number | null = null;
  private finished = false;
  private exchange: TextExchange | EventStreamExchange | null = null;
  private listening = false;
  private readonly onClientGone = () => {
    this.exchange?.abort(new Error("The client closed the connection"));
  };

  /** Null when the upstream's circuit refuses the request (another request is its half-open trial). */
  static begin(target: UpstreamTarget, deps: AttemptDeps, clientSignal: ClientSignal): UpstreamAttempt | null {
    const state = deps.states.get(target.id);
    if (!state.breaker.tryAcquire()) return null;
    return new UpstreamAttempt(target, state, deps, clientSignal);
  }

  private constructor(
    readonly target: UpstreamTarget,
    private readonly state: UpstreamState,
    private readonly deps: AttemptDeps,
    private readonly clientSignal: ClientSignal
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

  /** A non-stream request: the whole response, its body bounded (see TextExchange). */
  fetchText(json: string, maxBytes: number, maxErrorBytes: number): Promise<UpstreamText> {
    const exchange = new TextExchange(this, maxBytes, maxErrorBytes);
    this.dispatch(exchange, json, false);
    return exchange.response;
  }

  /** A stream request; wait for its `opened`. */
  openStream(json: string, maxErrorBytes: number): EventStreamExchange {
    const exchange = new EventStreamExchange(this, maxErrorBytes);
    this.dispatch(exchange, json, true);
    return exchange;
  }

  /** The upstream started answering: remember how long it took. */
  firstByteArrived(): void {
    this.firstByteMs = this.deps.now() - this.startedAtMs;
  }

  firstByteLeftMs(): number {
    return this.deps.timeouts.firstByteMs - (this.deps.now() - this.startedAtMs);
  }

  firstByteTimedOut(): void {
    this.firstByteTimerFired = true;
  }

  failureFrom(error: unknown): AttemptFailure {
    return failureFromError(error, this.firstByteTimerFired, this.deps.timeouts.firstByteMs);
  }

  finish(verdict: AttemptVerdict): void {
    if (this.finished) return;
    this.finished = true;
    this.state.inFlight -= 1;
    if (this.listening) {
      this.listening = false;
      this.clientSignal.removeEventListener("abort", this.onClientGone);
    }
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

  private dispatch(exchange: TextExchange | EventStreamExchange, json: string, stream: boolean): void {
    this.exchange = exchange;
    if (this.clientSignal.aborted) {
      // Gone already: nothing is sent.
      this.onClientGone();
      return;
    }
    this.clientSignal.addEventListener("abort", this.onClientGone);
    this.listening = true;
    const { firstByteMs, idleMs } = this.deps.timeouts;
    this.deps.pools.poolFor(this.endpoint.origin).dispatch(
      {
        method: "POST",
        path: this.endpoint.chatCompletionsPath,
        headers: stream ? this.endpoint.streamHeaders : this.endpoint.jsonHeaders,
        body: json,
        headersTimeout: firstByteMs,
        bodyTimeout: idleMs,
      },
      exchange
    );
  }
}
