/** A clock that moves only when told to, in ms since the epoch. */
export class FakeClock {
  constructor(public nowMs = 1_700_000_000_000) {}

  /** Pass this to a limiter. */
  readonly now = (): number => this.nowMs;

  advance(ms: number): void {
    this.nowMs += ms;
  }
}
