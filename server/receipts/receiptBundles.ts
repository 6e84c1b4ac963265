import type { Pool } from "pg";
import type { Address } from "../domain/types";
import { VoucherRepository } from "../persistence/vouchers/voucherRepository";
import type { VoucherRecord, VoucherState } from "../persistence/vouchers/voucherRows";
import { bigintFromNumeric } from "../persistence/money";
import { MICROS_PER_BASE } from "../settlement/cumulative";
import type { Receipt } from "../settlement/receipt";
import { RECEIPT_BUNDLE_FORMAT, type EscrowRef, type ReceiptBundle, type SettlementRef } from "../settlement/receiptBundle";
import { receiptsOfVoucher, usageTreeOfVoucher, VoucherIntegrityError, type Queryable } from "./voucherReceipts";

/**
 * Receipt bundles assembled from the database: a request's receipt, its Merkle proof in its
 * voucher's usage tree, the voucher with its newest signature, and the transaction that paid it.
 * The tree is rebuilt from the usage records the voucher links and checked against the signed
 * root before any proof is handed out. Used by `GET /api/usage/{requestId}/receipt` and
 * `shareai receipts get`.
 */

/** Who made the request: what authorisation is judged on. */
export interface UsageOwner {
  requestId: string;
  account: Address;
  keyId: string;
  provider: Address;
  createdAt: Date;
}

/** When a request not yet in a voucher will be, as far as the settlement rules can say. */
export interface VoucherWait {
  /** The pair's metered micros not yet in a voucher (this request included). */
  unvoucheredMicros: bigint;
  /** The oldest of them. */
  oldestUnvoucheredAt: Date;
  /**
   * The latest time the settlement worker builds the pair's next voucher (interval + one poll after
   * the oldest waiting receipt), or null when the pair's new usage is still below one base unit:
   * then no voucher is built until more usage reaches it.
   */
  expectedBy: Date | null;
  /** Micros still missing to the next whole base unit (0 when a voucher is due). */
  microsToNextBaseUnit: bigint;
}

export type ReceiptLookup =
  | { status: "not_found" }
  | { status: "not_vouchered"; owner: UsageOwner; wait: VoucherWait }
  | {
      status: "ready";
      owner: UsageOwner;
      bundle: ReceiptBundle;
      receipt: Receipt;
      /** pending / submitted: signed, not paid yet (the bundle has no `settlement`). */
      voucherState: VoucherState;
      voucher: VoucherRecord;
    };

export interface ReceiptBundleOptions {
  /** The escrow the deployment's vouchers are signed for (the EIP-712 domain). */
  escrow: EscrowRef;
  /** The settlement worker's interval and poll, to say when a waiting request gets its voucher. */
  settlementIntervalMs: number;
  settlementPollMs: number;
}

export class ReceiptBundles {
  private readonly vouchers: VoucherRepository;

  constructor(
    private readonly db: Queryable,
    private readonly options: ReceiptBundleOptions,
  ) {
    this.vouchers = new VoucherRepository(db as Pool);
  }

  /** Who made `requestId` (null: no such request). Cheap; check authorisation with it first. */
  async owner(requestId: string): Promise<UsageOwner | null> {
    const { rows } = await this.db.query<{
      request_id: string;
      account: string;
      key_id: string;
      provider_address: string;
      created_at: Date;
    }>(
      "SELECT request_id, account, key_id, provider_address, created_at FROM usage_records WHERE request_id = $1",
      [requestId],
    );
    if (rows.length === 0) return null;
    const row = rows[0];
    return {
      requestId: row.request_id,
      account: row.account,
      keyId: row.key_id,
      provider: row.provider_address,
      createdAt: row.created_at,
    };
  }

  /** The request's receipt bundle, or why there is none yet. */
  async lookup(requestId: string, knownOwner?: UsageOwner): Promise<ReceiptLookup> {
    const owner = knownOwner ?? (await this.owner(requestId));
    if (!owner) return { status: "not_found" };
    const voucher = await this.vouchers.forRequest(requestId);
    if (!voucher) return { status: "not_vouchered", owner, wait: await this.waitOf(owner) };

    const tree = await usageTreeOfVoucher(this.db, voucher);
    const receipt = (await receiptsOfVoucher(this.db, voucher.id)).find((r) => r.requestId === requestId);
    if (!receipt) throw new VoucherIntegrityError(`request ${requestId} links to voucher ${voucher.id} but is not among its receipts`);
    const settlement = await this.settlementOf(voucher);
    const bundle: ReceiptBundle = {
      format: RECEIPT_BUNDLE_FORMAT,
      receipt,
      proof: tree.proofOf(requestId),
      receiptCount: tree.size,
      voucher: {
        payer: voucher.payer,
        provider: voucher.provider,
        cumulativeAmount: voucher.cumulativeAmountBase,
        usageRoot: voucher.usageRoot,
      },
      signature: voucher.signature,
      signer: voucher.signer,
      escrow: this.options.escrow,
      ...(settlement ? { settlement } : {}),
    };
    return { status: "ready", owner, bundle, receipt, voucherState: voucher.state, voucher };
  }

  /** The newest mined inclusion that emitted the voucher's `Settled` event, once its transaction is mined. */
  private async settlementOf(voucher: VoucherRecord): Promise<SettlementRef | null> {
    if (voucher.state !== "confirmed" && voucher.state !== "final") return null;
    const withEvent = (await this.vouchers.settlementsOf(voucher.id)).filter((s) => s.logIndex !== null);
    const latest = withEvent[withEvent.length - 1];
    return latest ? { txHash: latest.txHash, blockNumber: latest.blockNumber } : null;
  }

  private async waitOf(owner: UsageOwner): Promise<VoucherWait> {
    const { rows } = await this.db.query<{ unvouchered: string; oldest: Date; previous_total: string | null }>(
      `SELECT COALESCE(sum(u.cost_micros), 0) AS unvouchered, min(u.created_at) AS oldest,
              (SELECT v.total_micros FROM vouchers v WHERE v.payer = $1 AND v.provider = $2
               ORDER BY v.cumulative_amount_base DESC LIMIT 1) AS previous_total
       FROM usage_records u WHERE u.account = $1 AND u.provider_address = $2 AND u.voucher_id IS NULL`,
      [owner.account, owner.provider],
    );
    const row = rows[0];
    const unvoucheredMicros = bigintFromNumeric(row.unvouchered);
    const previousTotal = row.previous_total === null ? 0n : bigintFromNumeric(row.previous_total);
    const total = previousTotal + unvoucheredMicros;
    const due = total / MICROS_PER_BASE > previousTotal / MICROS_PER_BASE;
    const oldest = row.oldest ?? owner.createdAt;
    const { settlementIntervalMs, settlementPollMs } = this.options;
    return {
      unvoucheredMicros,
      oldestUnvoucheredAt: oldest,
      expectedBy: due ? new Date(oldest.getTime() + settlementIntervalMs + settlementPollMs) : null,
      microsToNextBaseUnit: due ? 0n : MICROS_PER_BASE - (total % MICROS_PER_BASE),
    };
  }
}
