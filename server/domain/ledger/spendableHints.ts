import type { Address } from "../types";

/**
 * What each account could still spend, as the ledger last reported it to this
 * instance: used only to choose how to size a hold, never to admit a request
 * (the ledger's atomic reserve decides that).
 *
 * A hold sized by the prompt's byte length (no tokenizer) is larger than the
 * one our tokenizer would size. That costs nothing while an account is far from
 * the end of its balance, but near the end a burst of such holds could crowd
 * out a request that tokenizer-sized holds would have fitted. So the cheap
 * sizing is used only when a recent report says the account could cover
 * `HEADROOM_FACTOR` such holds: the crowding needs that many requests in
 * flight at once. An account this instance knows nothing about gets the
 * tokenizer's size.
 */
const HEADROOM_FACTOR = 1000n;
/** Reports older than this are ignored: other instances spend from the same balance. */
const MAX_AGE_MS = 10_000;
/** Most accounts remembered; the oldest report is dropped first. */
const MAX_ACCOUNTS = 10_000;

interface Report {
  spendableMicros: bigint;
  atMs: number;
}

export class SpendableHints {
  private readonly reports = new Map<Address, Report>();

  constructor(private readonly now: () => number) {}

  /** Whether `account` is known, recently, to be able to cover `amountMicros` many times over. */
  hasRoomFor(account: Address, amountMicros: bigint): boolean {
    const report = this.reports.get(account);
    if (!report) return false;
    if (this.now() - report.atMs > MAX_AGE_MS) {
      this.reports.delete(account);
      return false;
    }
    return report.spendableMicros >= amountMicros * HEADROOM_FACTOR;
  }

  record(account: Address, spendableMicros: bigint): void {
    // Re-inserted so the map's order stays oldest report first.
    this.reports.delete(account);
    if (this.reports.size >= MAX_ACCOUNTS) this.reports.delete(this.reports.keys().next().value as Address);
    this.reports.set(account, { spendableMicros, atMs: this.now() });
  }
}
