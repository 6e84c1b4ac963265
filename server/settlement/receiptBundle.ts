import { z } from "zod";
import { ReceiptSchema } from "./receipt";
import { AddressSchema, Bytes32Schema, HexBytesSchema, uintDecimalSchema, uintNumberSchema } from "./wire";

/**
 * A receipt bundle: everything needed to check one request's charge against the chain, with no
 * access to ShareAI. `GET /api/usage/{requestId}/receipt` returns it, `shareai verify-receipt
 * <file>` reads it, and the browser checks it the same way.
 */

/** Names the bundle's layout and the receipt leaf encoding it was proven under. */
export const RECEIPT_BUNDLE_FORMAT = "shareai-receipt-bundle/1";

/** A voucher as JSON carries it; `cumulativeAmount` is a decimal string of base units. */
export const VoucherSchema = z.strictObject({
  payer: AddressSchema,
  provider: AddressSchema,
  cumulativeAmount: uintDecimalSchema(128),
  usageRoot: Bytes32Schema,
});

/** Which escrow signed-for and settled the voucher: the EIP-712 domain's chain and contract. */
export const EscrowRefSchema = z.strictObject({
  address: AddressSchema,
  // EIP-155 chain ids are JSON numbers in every wallet and RPC client; inside, a bigint as ethers wants.
  chainId: z.codec(z.number().int().positive(), z.bigint(), {
    decode: (value) => BigInt(value),
    encode: (value) => Number(value),
  }),
});

/** The transaction that paid the voucher, as the gateway recorded it. */
export const SettlementRefSchema = z.strictObject({
  txHash: Bytes32Schema,
  blockNumber: uintNumberSchema(),
});

/**
 * Unknown top-level fields are dropped (a newer server may add some; none of them is verified),
 * but the receipt itself is strict: a field in it that the leaf does not cover would read as
 * proven when it is not.
 */
export const ReceiptBundleSchema = z.object({
  format: z.literal(RECEIPT_BUNDLE_FORMAT),
  receipt: ReceiptSchema,
  /** The receipt's Merkle proof in its voucher's usage tree (empty when it is the only receipt). */
  proof: z.array(Bytes32Schema).max(64),
  /** How many receipts the voucher's usage tree holds, as the gateway states it. */
  receiptCount: z.number().int().min(1),
  voucher: VoucherSchema,
  /** The voucher's EIP-712 signature, 65 bytes. */
  signature: HexBytesSchema,
  /** Who the gateway says signed the voucher. */
  signer: AddressSchema,
  escrow: EscrowRefSchema,
  /** Absent until the voucher has been settled on chain. */
  settlement: SettlementRefSchema.optional(),
});

export type ReceiptBundle = z.output<typeof ReceiptBundleSchema>;
export type ReceiptBundleJson = z.input<typeof ReceiptBundleSchema>;
export type EscrowRef = z.output<typeof EscrowRefSchema>;
export type SettlementRef = z.output<typeof SettlementRefSchema>;

/** Parses a bundle from JSON; throws a ZodError naming every bad field. */
export function parseReceiptBundle(json: unknown): ReceiptBundle {
  return ReceiptBundleSchema.parse(json);
}

/** The bundle's JSON form, ready for `JSON.stringify`. */
export function receiptBundleToJson(bundle: ReceiptBundle): ReceiptBundleJson {
  return z.encode(ReceiptBundleSchema, bundle);
}
