import type { Address } from "../../domain/types";

/** A voucher as it was put in a `settle` batch. */
export interface BatchedVoucher {
  id: number;
  payer: Address;
  provider: Address;
  cumulativeAmountBase: bigint;
  usageRoot: string;
}

/** A `Settled` event of the escrow, from a transaction's receipt. */
export interface SettledLog {
  logIndex: number;
  payer: Address;
  provider: Address;
  /** The pair's settled amount after this payment. */
  cumulativeAmount: bigint;
  paid: bigint;
  usageRoot: string;
}

export interface MatchedSettlement {
  voucherId: number;
  logIndex: number;
  paidBase: bigint;
  settledAfterBase: bigint;
}

export interface BatchOutcome {
  /** Vouchers that paid something, each with its event. */
  paid: MatchedSettlement[];
  /**
   * Vouchers with no event: the escrow paid them nothing, because their pair was already settled
   * at or past them (a re-submission) or because the payer's balance was empty.
   */
  unpaid: BatchedVoucher[];
}

/**
 * Pairs the `Settled` events of a `settle` transaction with the vouchers of its batch. The
 * escrow processes vouchers in batch order and emits at most one event per voucher, carrying its
 * payer, provider and usage root, so events are matched in order on those three: an event can
 * only belong to the first not-yet-matched voucher with the same triple. An event that matches no
 * voucher means the transaction is not the batch it is said to be; that throws.
 */
export function matchSettledLogs(batch: readonly BatchedVoucher[], logs: readonly SettledLog[]): BatchOutcome {
  const ordered = [...logs].sort((a, b) => a.logIndex - b.logIndex);
  const paid: MatchedSettlement[] = [];
  const matchedIds = new Set<number>();
  let cursor = 0;
  for (const log of ordered) {
    let found = -1;
    for (let i = cursor; i < batch.length; i++) {
      const voucher = batch[i];
      if (
        voucher.payer === log.payer.toLowerCase() &&
        voucher.provider === log.provider.toLowerCase() &&
        voucher.usageRoot === log.usageRoot.toLowerCase()
      ) {
        found = i;
        break;
      }
    }
    if (found < 0) {
      throw new Error(`Settled event at log ${log.logIndex} (root ${log.usageRoot}) matches no voucher of the batch`);
    }
    const voucher = batch[found];
    matchedIds.add(voucher.id);
    paid.push({
      voucherId: voucher.id,
      logIndex: log.logIndex,
      paidBase: log.paid,
      settledAfterBase: log.cumulativeAmount,
    });
    cursor = found + 1;
  }
  return { paid, unpaid: batch.filter((voucher) => !matchedIds.has(voucher.id)) };
}
