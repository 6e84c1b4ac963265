import type { Hold, Ledger, UsageRecordInput } from "../ports";
import type { ChatCompletionObserver, UseCaseLogger } from "./chatCompletionDeps";

/**
 * A request's hold on the account's balance, closed exactly once: committed
 * with its usage, or released with nothing to bill. `release` is called in a
 * `finally` around the whole request, so a hold never outlives its request on
 * this instance (a crash leaves it to the ledger's expiry).
 */
export class HeldRequest {
  private open = true;

  constructor(
    readonly hold: Hold,
    private readonly ledger: Ledger,
    private readonly observer: ChatCompletionObserver,
    private readonly logger: UseCaseLogger
  ) {
    observer.holdOpened();
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Records the usage and releases the hold in the ledger's one transaction. */
  async commit(record: UsageRecordInput): Promise<void> {
    if (!this.open) return;
    this.open = false;
    try {
      await this.ledger.commit(record);
    } catch (error) {
      // The hold stays in place until it expires: the user is not charged, and not given back more than they had.
      this.logger.error({ err: error, requestId: record.requestId, holdId: this.hold.id }, "usage commit failed");
      throw error;
    } finally {
      this.observer.holdClosed();
    }
  }

  /** Releases the hold with nothing billed; a no-op once committed. Never throws. */
  async release(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    try {
      await this.ledger.release(this.hold.id);
    } catch (error) {
      this.logger.warn({ err: error, holdId: this.hold.id }, "hold release failed; it will expire");
    } finally {
      this.observer.holdClosed();
    }
  }
}
