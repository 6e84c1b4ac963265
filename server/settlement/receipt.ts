import { AbiCoder, keccak256 } from "ethers";
import { z } from "zod";
import { AddressSchema, uintDecimalSchema, uintNumberSchema } from "./wire";

/**
 * The receipt of one metered request: what the gateway charged `payer` for `provider`'s work.
 * Each receipt is a leaf of the `usageRoot` of exactly one voucher, so anyone holding a
 * receipt and its proof can check it against a signed voucher and the chain.
 */

/** uint32: a request's token counts; far above any context window, and a sanity bound. */
const MAX_TOKENS = 2 ** 32 - 1;

export const ReceiptSchema = z.strictObject({
  /** The request's id (`x-request-id`), the usage record's natural key. */
  requestId: z.string().min(1),
  /** The account (deposit) that paid. */
  payer: AddressSchema,
  /** The payout address of the provider that served the request. */
  provider: AddressSchema,
  /** The id of the model the request was billed for. */
  model: z.string().min(1),
  promptTokens: uintNumberSchema(MAX_TOKENS),
  completionTokens: uintNumberSchema(MAX_TOKENS),
  /** Exact cost in micro base units (1e-12 USDC): a decimal string in JSON. */
  costMicros: uintDecimalSchema(256),
  /** When the usage was recorded, unix seconds (rounded down). */
  createdAt: uintNumberSchema(),
});

/** A receipt as used inside: addresses lower-cased, `costMicros` a bigint. */
export type Receipt = z.output<typeof ReceiptSchema>;
/** A receipt as JSON carries it. */
export type ReceiptJson = z.input<typeof ReceiptSchema>;

/**
 * The ABI types of a receipt leaf, in order. FIXED FOREVER: users verify old receipts against
 * roots already on chain, so a change here is a new receipt format, never an edit.
 *
 * - `requestId` and `model` are `string`s, not `bytes32` hashes: the leaf is hashed anyway,
 *   and a verifier can encode them with any ABI library without knowing our hashing rules.
 * - `payer` and `provider` bind the receipt to its pair: a receipt cannot be replayed into
 *   another pair's voucher.
 * - The integer widths are ranges, not layout: ABI pads every one to 32 bytes, so widening a
 *   type later would not change the hash of any receipt that fits.
 */
export const RECEIPT_LEAF_ENCODING = [
  "string", // requestId
  "address", // payer
  "address", // provider
  "string", // model
  "uint32", // promptTokens
  "uint32", // completionTokens
  "uint256", // costMicros
  "uint64", // createdAt
] as const;

export type ReceiptLeaf = [string, string, string, string, number, number, bigint, number];

/** The receipt's values in {@link RECEIPT_LEAF_ENCODING} order. */
export function receiptLeaf(receipt: Receipt): ReceiptLeaf {
  return [
    receipt.requestId,
    receipt.payer,
    receipt.provider,
    receipt.model,
    receipt.promptTokens,
    receipt.completionTokens,
    receipt.costMicros,
    receipt.createdAt,
  ];
}

/**
 * The leaf hash, `keccak256(keccak256(abi.encode(leaf)))`: OpenZeppelin's StandardMerkleTree
 * leaf. Hashing twice keeps a 64-byte leaf from ever passing as an inner node. Computed with
 * ethers here so that the formula in docs/settlement.md is checked against the tree library.
 */
export function receiptLeafHash(receipt: Receipt): string {
  const encoded = AbiCoder.defaultAbiCoder().encode([...RECEIPT_LEAF_ENCODING], receiptLeaf(receipt));
  return keccak256(keccak256(encoded));
}

/** Parses a receipt from JSON; throws a ZodError naming every bad field. */
export function parseReceipt(json: unknown): Receipt {
  return ReceiptSchema.parse(json);
}

/** The receipt's JSON form (`costMicros` as a decimal string). */
export function receiptToJson(receipt: Receipt): ReceiptJson {
  return z.encode(ReceiptSchema, receipt);
}

/** A Date as receipt time: whole unix seconds, rounded down so a receipt never postdates its record. */
export function unixSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}
