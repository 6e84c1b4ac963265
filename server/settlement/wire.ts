import { isAddress } from "ethers";
import { z } from "zod";

/**
 * JSON forms of chain values, shared by every settlement schema. Each is a zod codec: `parse`
 * (decode) turns JSON into the typed value used inside, and `z.encode` turns it back, so one
 * schema defines both directions of the wire format and they cannot drift apart.
 */

const ADDRESS_SHAPE = /^0x[0-9a-fA-F]{40}$/;
const BYTES32_SHAPE = /^0x[0-9a-fA-F]{64}$/;
const HEX_BYTES_SHAPE = /^0x(?:[0-9a-fA-F]{2})*$/;
const DECIMAL_SHAPE = /^(?:0|[1-9][0-9]*)$/;

/** Lower-cases inside: a hex value has one spelling in the domain whatever casing it arrived in. */
function lowerCased(input: z.ZodString) {
  return z.codec(input, z.string(), { decode: (value) => value.toLowerCase(), encode: (value) => value });
}

/**
 * An Ethereum address in any casing; a mixed-case address must carry a valid EIP-55 checksum
 * (a typo in a checksummed address is caught, not silently accepted). Lower-cased inside, as
 * `Address` is everywhere in the gateway.
 */
export const AddressSchema = lowerCased(
  z
    .string()
    .regex(ADDRESS_SHAPE, "an address is 0x and 40 hex digits")
    .refine((value) => isAddress(value), "the address's EIP-55 checksum is wrong"),
);

/** 32 bytes as 0x-prefixed hex (a hash, a Merkle node, a usage root, a transaction hash). */
export const Bytes32Schema = lowerCased(z.string().regex(BYTES32_SHAPE, "expected 32 bytes as 0x and 64 hex digits"));

/** Any whole number of bytes as 0x-prefixed hex (a signature: its exact form is a verification check). */
export const HexBytesSchema = lowerCased(z.string().regex(HEX_BYTES_SHAPE, "expected 0x-prefixed hex bytes"));

/**
 * An unsigned integer of `bits` bits as a decimal string in JSON (JSON numbers lose precision
 * above 2^53), a bigint inside. No sign, no leading zeros, no exponent: one spelling per value.
 */
export function uintDecimalSchema(bits: number) {
  return z.codec(
    z.string().regex(DECIMAL_SHAPE, "expected an unsigned integer as a decimal string"),
    z.bigint().min(0n).max(maxUint(bits), `must fit in uint${bits}`),
    { decode: (value) => BigInt(value), encode: (value) => value.toString() },
  );
}

/** An unsigned integer small enough to be an exact JSON number (token counts, seconds, block numbers). */
export function uintNumberSchema(max: number = Number.MAX_SAFE_INTEGER) {
  return z.number().int().min(0).max(max);
}

/** The largest value of an unsigned integer of `bits` bits. */
function maxUint(bits: number): bigint {
  return (1n << BigInt(bits)) - 1n;
}
