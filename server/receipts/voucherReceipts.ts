import type { Pool } from "pg";
import type { Receipt } from "../settlement/receipt";
import { buildUsageTree, type UsageTree } from "../settlement/usageTree";
import type { VoucherRecord } from "../persistence/vouchers/voucherRows";
import { bigintFromNumeric } from "../persistence/money";

/**
 * The receipts of a voucher, read back from the usage records it links, exactly as the settlement
 * worker turned them into leaves (`VoucherRepository.buildVoucher`): the same columns, and
 * `createdAt` = `floor(extract(epoch FROM created_at))`, computed by Postgres in both places, so a
 * rebuilt tree has the voucher's root to the bit.
 */
export const RECEIPT_COLUMNS_SQL = `request_id, account, provider_address, model_id, prompt_tokens, completion_tokens,
  cost_micros, floor(extract(epoch FROM created_at))::bigint AS created_at_seconds`;

interface ReceiptRow {
  request_id: string;
  account: string;
  provider_address: string;
  model_id: string;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: string;
  created_at_seconds: string;
}

function receiptOfRow(row: ReceiptRow): Receipt {
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

/** A query runner: a Pool, or one client inside a transaction (reconcile reads one snapshot). */
export type Queryable = Pick<Pool, "query">;

/** Every receipt under `voucherId`'s usage root. */
export async function receiptsOfVoucher(db: Queryable, voucherId: number): Promise<Receipt[]> {
  const { rows } = await db.query<ReceiptRow>(
    `SELECT ${RECEIPT_COLUMNS_SQL} FROM usage_records WHERE voucher_id = $1 ORDER BY request_id`,
    [voucherId],
  );
  return rows.map(receiptOfRow);
}

/** A stored voucher whose receipts no longer hash to its root: the ledger was changed after signing. */
export class VoucherIntegrityError extends Error {
  override name = "VoucherIntegrityError";
}

/**
 * The usage tree of a stored voucher, rebuilt from its usage records and checked against what was
 * signed (root and receipt count). Throws {@link VoucherIntegrityError} when they differ: serving a
 * proof against another root would hand out a receipt that can never verify.
 */
export async function usageTreeOfVoucher(db: Queryable, voucher: VoucherRecord): Promise<UsageTree> {
  const receipts = await receiptsOfVoucher(db, voucher.id);
  if (receipts.length !== voucher.receiptCount) {
    throw new VoucherIntegrityError(
      `voucher ${voucher.id} was signed over ${voucher.receiptCount} receipts, but ${receipts.length} usage records link to it`,
    );
  }
  const tree = buildUsageTree(receipts);
  if (tree.root !== voucher.usageRoot.toLowerCase()) {
    throw new VoucherIntegrityError(
      `voucher ${voucher.id}'s receipts hash to ${tree.root}, not to its signed usage root ${voucher.usageRoot}`,
    );
  }
  return tree;
}
