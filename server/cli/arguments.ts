import { MAX_LIMIT_PER_MINUTE } from "../domain/rateLimit";
import { normalizeAddress } from "../persistence/address";
import { InvalidArgumentError } from "commander";
import { AMOUNT_FORMS, AmountError, parseBaseUnits } from "./money";

/**
 * Parsers for option values, in commander's `argParser` shape. Each throws
 * commander's InvalidArgumentError, which it prints as one line naming the
 * option and the value: `option '--daily-cap <amount>' argument '-1' is invalid. …`.
 */

export function amountArgument(raw: string): bigint {
  try {
    return parseBaseUnits(raw);
  } catch (error) {
    if (error instanceof AmountError)
      throw new InvalidArgumentError(`${capitalise(error.reason)}; write ${AMOUNT_FORMS}.`);
    throw error;
  }
}

/**
 * `none`, meaning "remove this cap or limit". A marker rather than null:
 * commander turns a parser's null into an empty string.
 */
export const NONE = "none";
export type None = typeof NONE;

/** An amount, or `none` to remove a cap. */
export function amountOrNone(raw: string): bigint | None {
  return isNone(raw) ? NONE : amountArgument(raw);
}

export function positiveInteger(raw: string, max = Number.MAX_SAFE_INTEGER): number {
  const text = raw.trim().replaceAll("_", "");
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new InvalidArgumentError(`Must be a whole number from 1 to ${max}.`);
  }
  return Number(text);
}

/** Requests or tokens per minute, or `none` to remove the limit. */
export function perMinuteOrNone(raw: string): number | None {
  return isNone(raw) ? NONE : positiveInteger(raw, MAX_LIMIT_PER_MINUTE);
}

/** The value to store for an option that may say `none`. */
export function orNull<T>(value: T | None): T | null {
  return value === NONE ? null : value;
}

export function perMinute(raw: string): number {
  return positiveInteger(raw, MAX_LIMIT_PER_MINUTE);
}

export function address(raw: string): string {
  try {
    return normalizeAddress(raw.trim());
  } catch {
    throw new InvalidArgumentError("Not an Ethereum address (0x and 40 hex digits).");
  }
}

/** `a,b,c` → `["a", "b", "c"]`, blanks dropped, duplicates removed. */
export function commaList(raw: string): string[] {
  const items = [
    ...new Set(
      raw
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== ""),
    ),
  ];
  if (items.length === 0) throw new InvalidArgumentError("Expected a comma-separated list with at least one item.");
  return items;
}

/** Repeatable `--model <networkId>[=<upstreamName>]`: collects into one map. */
export function modelMapping(raw: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = raw.indexOf("=");
  const networkId = (at === -1 ? raw : raw.slice(0, at)).trim();
  const upstreamName = (at === -1 ? networkId : raw.slice(at + 1)).trim();
  if (networkId === "" || upstreamName === "") {
    throw new InvalidArgumentError("Expected <network model id>[=<name the upstream uses>].");
  }
  if (networkId in previous) throw new InvalidArgumentError(`Model ${networkId} is given twice.`);
  return { ...previous, [networkId]: upstreamName };
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function isNone(raw: string): boolean {
  return raw.trim().toLowerCase() === "none";
}
