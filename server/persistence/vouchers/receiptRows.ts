import type { Receipt } from "../../settlement/receipt";
import { bigintFromNumeric } from "../money";

/**
 * The columns of `usage_records` that make a request's receipt (a leaf of its voucher's usage
 * root). The settlement worker reads them to build a voucher and the receipts API to prove one,
 * so both go through this one definition: `createdAt` is computed by Postgres as whole seconds
 * in both places, and a rebuilt tree has the signed root to the bit.
 */
export const RECEIPT_COLUMNS_SQL = `request_id, account, provider_address, model_id, prompt_tokens, completion_tokens,
  cost_micros, floor(extract(epoch FROM created_at))::bigint AS created_at_seconds`;

/** A row selected with {@link RECEIPT_COLUMNS_SQL}. */
export interface ReceiptRow {
  request_id: string;
  account: string;
  provider_address: string;
  model_id: string;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: string;
  created_at_seconds: string;
}

export function receiptOfRow(row: ReceiptRow): Receipt {
  return {
    requestId: row.request_id,
    payer: row.account,
    provider: row.provider_address,
    model: row.model_id,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    costMicros: bigintFromNumeric(row.cost_micros),
    createdAt: Number(row.created_at_seconds),
  };
}
