import type { Pool } from "pg";
import type { Receipt } from "../settlement/receipt";
import { buildUsageTree, type UsageTree } from "../settlement/usageTree";
import type { VoucherRecord } from "../persistence/vouchers/voucherRows";
import { RECEIPT_COLUMNS_SQL, receiptOfRow, type ReceiptRow } from "../persistence/vouchers/receiptRows";

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
