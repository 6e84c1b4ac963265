import type { Address } from "../domain/types";

const ADDRESS_PATTERN = /^0x[0-9a-fA-F]{40}$/;

/**
 * Accounts and providers are identified by their Ethereum address, stored
 * lower-cased so that one address is one row whatever checksum casing it came in.
 */
export function normalizeAddress(address: string): Address {
  if (!ADDRESS_PATTERN.test(address)) {
    throw new TypeError(`not an Ethereum address: ${JSON.stringify(address)}`);
  }
  return address.toLowerCase();
}
