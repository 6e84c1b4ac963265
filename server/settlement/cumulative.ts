/**
 * The cumulative voucher amount. Metering counts micro base units (1e-12 USDC) exactly; the
 * escrow counts base units (1e-6 USDC). A voucher states everything the payer has ever owed the
 * provider, rounded DOWN to base units, so:
 * - rounding never charges more than was metered (the floor is at most the total);
 * - the remainder is never lost: it stays in the total and is part of the next voucher's floor;
 * - nothing is charged early: a base unit is charged only once metered usage has reached it.
 * Because every voucher is a floor of the running total (not a sum of rounded increments), the
 * increments of successive vouchers add up to exactly floor(total) whatever the batching.
 */

export const MICROS_PER_BASE = 1_000_000n;

/** The escrow stores amounts as uint128; a cumulative amount above it cannot be settled. */
export const MAX_CUMULATIVE_BASE = (1n << 128n) - 1n;

export interface CumulativeAmount {
  /** What the voucher states: floor(totalMicros / 10^6), in base units. */
  cumulativeAmountBase: bigint;
  /** totalMicros mod 10^6: metered but not yet charged; carried into the next voucher. */
  carriedMicros: bigint;
}

/** Splits a pair's total metered usage, ever, into the voucher amount and the carried remainder. */
export function cumulativeAmountOf(totalMicros: bigint): CumulativeAmount {
  if (totalMicros < 0n) throw new RangeError(`metered usage cannot be negative: ${totalMicros}`);
  // bigint division truncates toward zero, which is the floor for a non-negative total.
  const cumulativeAmountBase = totalMicros / MICROS_PER_BASE;
  if (cumulativeAmountBase > MAX_CUMULATIVE_BASE) {
    throw new RangeError(`cumulative amount ${cumulativeAmountBase} does not fit the escrow's uint128`);
  }
  return { cumulativeAmountBase, carriedMicros: totalMicros % MICROS_PER_BASE };
}

/**
 * What a new voucher adds to the pair's previous one, in base units. Throws if the metered total
 * went backwards: usage records are never deleted, so that is a ledger bug that must stop
 * settlement rather than be signed.
 */
export function voucherIncrementBase(previousCumulativeBase: bigint, totalMicros: bigint): bigint {
  const { cumulativeAmountBase } = cumulativeAmountOf(totalMicros);
  if (cumulativeAmountBase < previousCumulativeBase) {
    throw new RangeError(
      `metered total ${totalMicros} micros is below the previous voucher's ${previousCumulativeBase} base units`,
    );
  }
  return cumulativeAmountBase - previousCumulativeBase;
}

export interface VoucherDueInput {
  /** The pair's previous voucher's cumulative amount (0 if it has none). */
  previousCumulativeBase: bigint;
  /** The pair's metered usage ever, including the receipts not yet in a voucher. */
  totalMicros: bigint;
  /** When the oldest receipt not yet in a voucher was metered (unix seconds); null if none. */
  oldestPendingReceiptAt: number | null;
  /** Now, unix seconds. */
  now: number;
  /** Build as soon as the increment reaches this many base units. */
  thresholdBase: bigint;
  /** Build once the oldest pending receipt is this old, whatever the increment. */
  intervalSeconds: number;
}

export type VoucherDecision =
  | { build: true; reason: "threshold" | "interval"; incrementBase: bigint }
  | { build: false; reason: "nothing_due" | "waiting"; incrementBase: bigint };

/**
 * Whether the pair's next voucher is worth building now.
 *
 * Never when it would add nothing (`nothing_due`): the escrow would pay nothing and emit no
 * `Settled` event, so the voucher's receipts could never be traced on chain; they wait for the
 * next voucher instead. The interval runs from the oldest pending receipt, not the last voucher,
 * because it is what bounds how long metered usage goes unsettled, and the escrow's thawing
 * period must outlast that.
 */
export function decideVoucher(input: VoucherDueInput): VoucherDecision {
  const incrementBase = voucherIncrementBase(input.previousCumulativeBase, input.totalMicros);
  if (incrementBase === 0n) return { build: false, reason: "nothing_due", incrementBase };
  if (incrementBase >= input.thresholdBase) return { build: true, reason: "threshold", incrementBase };
  const waited = input.oldestPendingReceiptAt === null ? 0 : input.now - input.oldestPendingReceiptAt;
  if (waited >= input.intervalSeconds) return { build: true, reason: "interval", incrementBase };
  return { build: false, reason: "waiting", incrementBase };
}
