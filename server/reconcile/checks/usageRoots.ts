import { usageTreeOfVoucher, VoucherIntegrityError } from "../../receipts/voucherReceipts";
import { differs, passed, type ReconcileCheck } from "../reconcileCheck";

/**
 * Every voucher's usage root is the Merkle root of the receipts it links, rebuilt from the usage
 * records: every receipt the receipt API serves verifies against its voucher.
 */
export const usageRoots: ReconcileCheck = {
  name: "usage-roots",
  title: "every voucher's usage root is the Merkle root of its receipts",
  async run({ db, vouchers }) {
    const { rows } = await db.query<{ id: string }>("SELECT id FROM vouchers ORDER BY id");
    let receipts = 0;
    for (const { id } of rows) {
      const voucher = await vouchers.byId(Number(id));
      if (!voucher) continue;
      try {
        receipts += (await usageTreeOfVoucher(db, voucher)).size;
      } catch (error) {
        if (error instanceof VoucherIntegrityError) return differs(error.message);
        throw error;
      }
    }
    return passed(`${rows.length} usage roots rebuilt from ${receipts} receipts`);
  },
};
