import type { SettlementTxFees } from "../../persistence/vouchers/voucherRows";

const BPS = 10_000n;

/** `value` raised by `bumpBps` basis points, rounded up (a node compares the raised fee with >=). */
function raised(value: bigint, bumpBps: number): bigint {
  return (value * (BPS + BigInt(bumpBps)) + BPS - 1n) / BPS;
}

function larger(a: bigint, b: bigint | null): bigint {
  return b !== null && b > a ? b : a;
}

export type FeeBump = { ok: true; fees: SettlementTxFees } | { ok: false; reason: string };

/**
 * The fees of a replacement for a stuck transaction: each fee raised by at least `bumpBps`
 * (nodes refuse a replacement that does not pay 10% more on both EIP-1559 fees), and never below
 * what the chain asks now. `ceilingWei` caps maxFeePerGas (or gasPrice): a bump that the ceiling
 * would stop from reaching the minimum increase is refused rather than sent to be rejected.
 */
export function bumpFees(
  previous: SettlementTxFees,
  current: SettlementTxFees,
  bumpBps: number,
  ceilingWei: bigint | null,
): FeeBump {
  if (previous.maxFeePerGas !== null && previous.maxPriorityFeePerGas !== null) {
    const maxPriorityFeePerGas = larger(raised(previous.maxPriorityFeePerGas, bumpBps), current.maxPriorityFeePerGas);
    let maxFeePerGas = larger(raised(previous.maxFeePerGas, bumpBps), current.maxFeePerGas);
    if (maxFeePerGas < maxPriorityFeePerGas) maxFeePerGas = maxPriorityFeePerGas;
    if (ceilingWei !== null && maxFeePerGas > ceilingWei) {
      return { ok: false, reason: `a bump needs maxFeePerGas ${maxFeePerGas} wei, above the ceiling ${ceilingWei}` };
    }
    return { ok: true, fees: { maxFeePerGas, maxPriorityFeePerGas, gasPrice: null } };
  }
  if (previous.gasPrice !== null) {
    const gasPrice = larger(raised(previous.gasPrice, bumpBps), current.gasPrice);
    if (ceilingWei !== null && gasPrice > ceilingWei) {
      return { ok: false, reason: `a bump needs gasPrice ${gasPrice} wei, above the ceiling ${ceilingWei}` };
    }
    return { ok: true, fees: { maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice } };
  }
  throw new TypeError("the previous transaction has neither EIP-1559 fees nor a gas price");
}

/** The fees to offer for a new transaction: what the chain suggests, capped by the ceiling. */
export function initialFees(suggested: SettlementTxFees, ceilingWei: bigint | null): SettlementTxFees {
  const cap = (value: bigint | null) =>
    value !== null && ceilingWei !== null && value > ceilingWei ? ceilingWei : value;
  if (suggested.maxFeePerGas !== null && suggested.maxPriorityFeePerGas !== null) {
    const maxFeePerGas = cap(suggested.maxFeePerGas)!;
    const priority = suggested.maxPriorityFeePerGas > maxFeePerGas ? maxFeePerGas : suggested.maxPriorityFeePerGas;
    return { maxFeePerGas, maxPriorityFeePerGas: priority, gasPrice: null };
  }
  if (suggested.gasPrice !== null)
    return { maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice: cap(suggested.gasPrice) };
  throw new Error("the chain suggests no fees (neither EIP-1559 fees nor a gas price)");
}
