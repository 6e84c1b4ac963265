import type { Receipt } from "../../../../server/settlement/receipt";

export const PAYER = "0x1111111111111111111111111111111111111111";
export const PROVIDER = "0x2222222222222222222222222222222222222222";
export const OTHER = "0x3333333333333333333333333333333333333333";

/** A receipt of the test pair; `n` makes the request id and the amounts differ between receipts. */
export function receiptOf(n: number, overrides: Partial<Receipt> = {}): Receipt {
  return {
    requestId: `req-${n}`,
    payer: PAYER,
    provider: PROVIDER,
    model: "llama-3.1-8b-instruct",
    promptTokens: 100 + n,
    completionTokens: 20 + (n % 7),
    costMicros: 250_000n * BigInt(100 + n) + 1_000_000n * BigInt(20 + (n % 7)),
    createdAt: 1_767_225_600 + n,
    ...overrides,
  };
}

export function receiptsOf(count: number, overrides: Partial<Receipt> = {}): Receipt[] {
  return Array.from({ length: count }, (_, n) => receiptOf(n, overrides));
}

/** One altered copy of `receipt` per leaf field, each changed in the smallest way its type allows. */
export function tamperedCopies(receipt: Receipt): Array<[field: keyof Receipt, tampered: Receipt]> {
  return [
    ["requestId", { ...receipt, requestId: `${receipt.requestId}x` }],
    ["payer", { ...receipt, payer: OTHER }],
    ["provider", { ...receipt, provider: OTHER }],
    ["model", { ...receipt, model: `${receipt.model}-pro` }],
    ["promptTokens", { ...receipt, promptTokens: receipt.promptTokens + 1 }],
    ["completionTokens", { ...receipt, completionTokens: receipt.completionTokens + 1 }],
    ["costMicros", { ...receipt, costMicros: receipt.costMicros - 1n }],
    ["createdAt", { ...receipt, createdAt: receipt.createdAt + 1 }],
  ];
}
