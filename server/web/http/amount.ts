import { MICROS_PER_BASE } from "../../domain/ledger/balance";
import { decimalString, MICROS_DECIMALS, USDC_DECIMALS } from "../../domain/money/usdcDecimal";

/**
 * Every amount of money the web API returns, in three exact decimal strings
 * (never a JSON number, which a browser would read as a float):
 * - `micros`: an integer of micro base units (1e-12 USDC), what metering counts;
 * - `base`: USDC base units (1e-6 USDC), what the escrow counts: an integer for
 *   on-chain amounts, with up to 6 decimals for metered ones (a request can
 *   cost a fraction of a base unit);
 * - `usdc`: the same in USDC, trailing zeros trimmed.
 */
export interface AmountView {
  micros: string;
  base: string;
  usdc: string;
}

export function amountFromMicros(micros: bigint): AmountView {
  return {
    micros: micros.toString(),
    base: decimalString(micros, MICROS_DECIMALS - USDC_DECIMALS),
    usdc: decimalString(micros, MICROS_DECIMALS),
  };
}

export function amountFromBase(base: bigint): AmountView {
  return amountFromMicros(base * MICROS_PER_BASE);
}
