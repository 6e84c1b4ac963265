/** USDC has 6 decimals: 1 USDC = 1,000,000 base units. A micro base unit is 1e-12 USDC. */
export const USDC_DECIMALS = 6;
export const MICROS_DECIMALS = 12;

/**
 * An integer amount as a decimal string with `decimals` places, trailing zeros
 * trimmed: `decimalString(250000n, 6) === "0.25"`. Exact: no float ever sees money.
 */
export function decimalString(amount: bigint, decimals: number): string {
  const negative = amount < 0n;
  const digits = (negative ? -amount : amount).toString().padStart(decimals + 1, "0");
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}

/** Base units as USDC: `1500000n` → `"1.5"`. */
export function baseUnitsToUsdc(base: bigint): string {
  return decimalString(base, USDC_DECIMALS);
}

/** Micro base units as USDC: `250000000000n` → `"0.25"`. */
export function microsToUsdc(micros: bigint): string {
  return decimalString(micros, MICROS_DECIMALS);
}
