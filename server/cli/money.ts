import { USDC_DECIMALS } from "../domain/money/usdcDecimal";

/**
 * Amounts typed on the command line, read exactly into USDC base units
 * (1 USDC = 1,000,000) by string arithmetic: no float ever sees money.
 *
 * - a whole number is base units: `1500000` (underscores allowed: `1_500_000`);
 * - a number with a decimal point is USDC: `1.5`, `0.25`, `2.` is refused;
 * - a `usdc` suffix makes any number USDC: `2usdc`, `0.5 USDC`.
 *
 * So `1` is one base unit and `1.0` or `1usdc` is one USDC; the CLI echoes
 * both forms back so a slip shows at once.
 */
export const AMOUNT_FORMS = "base units like 1500000, or USDC like 1.5 or 1.5usdc";

export class AmountError extends Error {
  constructor(
    raw: string,
    /** What is wrong, without the value: "amounts cannot be negative". */
    readonly reason: string,
  ) {
    super(`${JSON.stringify(raw)} is not an amount: ${reason} (write ${AMOUNT_FORMS})`);
    this.name = "AmountError";
  }
}

/** numeric(78,0) holds any uint256; nothing larger can be stored or settled. */
const MAX_AMOUNT = (1n << 256n) - 1n;
const BASE_PER_USDC = 10n ** BigInt(USDC_DECIMALS);

const WHOLE = /^\d+(?:_\d+)*$/;
const DECIMAL = /^(\d+(?:_\d+)*)\.(\d+)$/;
const USDC_SUFFIX = /\s*usdc$/i;

export function parseBaseUnits(raw: string): bigint {
  const text = raw.trim();
  if (text === "") throw new AmountError(raw, "it is empty");
  if (text.startsWith("-")) throw new AmountError(raw, "amounts cannot be negative");
  const usdc = USDC_SUFFIX.test(text);
  const number = text.replace(USDC_SUFFIX, "");
  let amount: bigint;
  if (WHOLE.test(number)) {
    const whole = BigInt(number.replaceAll("_", ""));
    amount = usdc ? whole * BASE_PER_USDC : whole;
  } else {
    const decimal = DECIMAL.exec(number);
    if (!decimal) throw new AmountError(raw, "not a plain decimal number");
    const [, whole, fraction] = decimal;
    if (fraction.length > USDC_DECIMALS) {
      throw new AmountError(raw, `USDC has ${USDC_DECIMALS} decimals, and this has ${fraction.length}`);
    }
    amount = BigInt(whole.replaceAll("_", "")) * BASE_PER_USDC + BigInt(fraction.padEnd(USDC_DECIMALS, "0"));
  }
  if (amount > MAX_AMOUNT) throw new AmountError(raw, "it is larger than any uint256");
  return amount;
}
