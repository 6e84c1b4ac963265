export type CircuitState = "closed" | "open" | "half_open";

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses requests before it lets one trial through. */
  cooldownMs: number;
  now?: () => number;
}

/**
 * Takes an upstream out of rotation after `failureThreshold` consecutive
 * failures, so that a dead upstream costs each request nothing instead of a
 * connect timeout. After `cooldownMs` the circuit is half-open: exactly one
 * request is let through as a trial; its success closes the circuit, its
 * failure opens it for another cooldown.
 */
export class CircuitBreaker {
  private state: CircuitState = "closed";
  private consecutiveFailures = 0;
  private openedAtMs = 0;
  private trialInFlight = false;
  private readonly now: () => number;

  constructor(private readonly options: CircuitBreakerOptions) {
    this.now = options.now ?? Date.now;
  }

  get currentState(): CircuitState {
    return this.state;
  }

  /** Whether a request could be sent now (no side effect: the router filters candidates with it). */
  isAvailable(): boolean {
    if (this.state === "closed") return true;
    if (this.state === "half_open") return !this.trialInFlight;
    return this.now() - this.openedAtMs >= this.options.cooldownMs;
  }

  /** Claims the right to send one request; false if the circuit refuses it. */
  tryAcquire(): boolean {
    if (this.state === "closed") return true;
    if (!this.isAvailable()) return false;
    this.state = "half_open";
    this.trialInFlight = true;
    return true;
  }

  onSuccess(): void {
    this.state = "closed";
    this.consecutiveFailures = 0;
    this.trialInFlight = false;
  }

  onFailure(): void {
    this.consecutiveFailures += 1;
    if (this.state === "half_open" || this.consecutiveFailures >= this.options.failureThreshold) {
      this.state = "open";
      this.openedAtMs = this.now();
    }
    this.trialInFlight = false;
  }

  /**
   * Returns a claim that ended with neither verdict (the client went away
   * first): a half-open circuit lets the next request be the trial.
   */
  onAbandoned(): void {
    this.trialInFlight = false;
  }
}
