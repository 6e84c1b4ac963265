import type { ValueTransformer } from "typeorm";

/**
 * Money in Postgres is `numeric(78,0)`: wide enough for any uint256 the escrow can
 * hold, exact, and never a float. node-postgres hands `numeric` back as a string;
 * these helpers turn it into `bigint` at the edge of the persistence layer.
 */

export function bigintFromNumeric(value: string): bigint {
  return BigInt(value);
}

export function nullableBigintFromNumeric(value: string | null): bigint | null {
  return value === null ? null : BigInt(value);
}

/** Column transformer for `numeric(78,0)` columns declared in entity schemas. */
export const numericAsBigint: ValueTransformer = {
  to: (value: bigint | null | undefined) => (value === null || value === undefined ? value : value.toString()),
  from: (value: string | null) => nullableBigintFromNumeric(value),
};

/** Column transformer for `bigint` (int8) columns that hold small counts, read as numbers. */
export const int8AsNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | null) => (value === null ? null : Number(value)),
};
