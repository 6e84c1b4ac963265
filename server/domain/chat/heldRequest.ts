import type { Hold, Ledger, UsageRecordInput } from "../ports";
import type { ChatCompletionObserver, UseCaseLogger } from "./chatCompletionDeps";

/**
 * A request's hold on the account's balance, closed exactly once: committed
 * with its usage, or released with nothing to bill. `release` is called in a
 * `finally` around the whole request, so a hold never outlives its request on
 * this instance (a crash leaves it to the ledger's expiry).
 *
 * And never the other way round: a request still running a third of `ttlMs`
 * after its hold was placed (a long stream) pushes the hold's expiry on, again
 * and again, so the sweeper cannot release the hold while tokens are still
 * being generated against it. Only a live instance extends; a crashed one's
 * holds expire at most `ttlMs` after its last extension.
 */
export class HeldRequest {
  private open = true;
  private renewal: NodeJS.Timeout | undefined;

  constructor(
    readonly hold: Hold,
    private readonly ledger: Ledger,
    private readonly observer: ChatCompletionObserver,
    private readonly logger: UseCaseLogger,
    private readonly ttlMs: number
  ) {
    observer.holdOpened();
    this.scheduleRenewal();
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Records the usage and releases the hold in the ledger's one transaction. */
  async commit(record: UsageRecordInput): Promise<void> {
    if (!this.open) return;
    this.close();
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
    this.close();
    try {
      await this.ledger.release(this.hold.id);
    } catch (error) {
      this.logger.warn({ err: error, holdId: this.hold.id }, "hold release failed; it will expire");
    } finally {
      this.observer.holdClosed();
    }
  }

  private close(): void {
    this.open = false;
    clearTimeout(this.renewal);
  }

  private scheduleRenewal(): void {
    this.renewal = setTimeout(() => void this.renew(), Math.max(1, Math.floor(this.ttlMs / 3)));
    // A pending renewal must not keep a stopping process alive; the request in flight does that.
    this.renewal.unref();
  }

  private async renew(): Promise<void> {
    if (!this.open) return;
    try {
      if (await this.ledger.extend(this.hold.id, this.ttlMs)) {
        if (this.open) this.scheduleRenewal();
        return;
      }
      // Swept already (this process was stalled past the expiry): the usage is still recorded in full at the end.
      if (this.open) this.logger.error({ holdId: this.hold.id }, "hold expired while its request was still running");
    } catch (error) {
      // The next attempt may succeed: the expiry is still a third of a TTL or more away.
      this.logger.warn({ err: error, holdId: this.hold.id }, "hold extension failed; retrying");
      if (this.open) this.scheduleRenewal();
    }
  }
}
