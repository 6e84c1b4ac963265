import type { Pool, PoolClient } from "pg";
import type { Address } from "../../domain/types";
import type { Receipt } from "../../settlement/receipt";
import { bigintFromNumeric } from "../money";
import { inTransaction, RollBack } from "./inTransaction";
import { RECEIPT_COLUMNS_SQL, receiptOfRow } from "./receiptRows";
import {
  voucherFromRow,
  type UnvoucheredPair,
  type UnvoucheredReceiptRow,
  type VoucherRecord,
  type VoucherRow,
  type VoucherSettlementRecord,
  type VoucherState,
} from "./voucherRows";

/** What the settlement worker decided to sign for a pair, from the receipts it was given. */
export interface NewVoucher {
  cumulativeAmountBase: bigint;
  totalMicros: bigint;
  carriedMicros: bigint;
  usageRoot: string;
  signer: Address;
  signature: string;
  /** The receipts under `usageRoot`: exactly the usage records the voucher takes. */
  requestIds: readonly string[];
}

export interface VoucherBuildInput {
  /** The pair's metered total up to its previous voucher (0 without one). */
  previousTotalMicros: bigint;
  /** The pair's usage not yet in a voucher, oldest first (at most the asked number). */
  receipts: Receipt[];
  /** How many more are waiting beyond `receipts` (the cap). */
  truncated: boolean;
}

export type VoucherBuildResult = { built: VoucherRecord } | { built: null; reason: string };

/**
 * The `vouchers` table and the link from usage records to them. Every query is parameterised;
 * the settlement worker is its only writer. Reads return plain objects.
 */
export class VoucherRepository {
  constructor(private readonly pool: Pool) {}

  /** Every pair with usage not yet in a voucher, with the pair's previous voucher's totals. */
  async unvoucheredPairs(): Promise<UnvoucheredPair[]> {
    const { rows } = await this.pool.query<{
      payer: string;
      provider: string;
      unvouchered_micros: string;
      unvouchered_count: number;
      oldest_at: Date;
      previous_total_micros: string | null;
      previous_cumulative_base: string | null;
    }>({
      name: "settlement_unvouchered_pairs",
      text: `
WITH waiting AS (
  SELECT account, provider_address, sum(cost_micros) AS unvouchered_micros,
         count(*)::int AS unvouchered_count, min(created_at) AS oldest_at
  FROM usage_records
  WHERE voucher_id IS NULL
  GROUP BY account, provider_address
)
SELECT w.account AS payer, w.provider_address AS provider, w.unvouchered_micros, w.unvouchered_count, w.oldest_at,
       p.total_micros AS previous_total_micros, p.cumulative_amount_base AS previous_cumulative_base
FROM waiting w
LEFT JOIN LATERAL (
  SELECT v.total_micros, v.cumulative_amount_base FROM vouchers v
  WHERE v.payer = w.account AND v.provider = w.provider_address
  ORDER BY v.cumulative_amount_base DESC LIMIT 1
) p ON true
ORDER BY w.account, w.provider_address`,
    });
    return rows.map((row) => ({
      payer: row.payer,
      provider: row.provider,
      unvoucheredMicros: bigintFromNumeric(row.unvouchered_micros),
      unvoucheredCount: row.unvouchered_count,
      oldestUnvoucheredAt: row.oldest_at,
      previousTotalMicros: row.previous_total_micros === null ? 0n : bigintFromNumeric(row.previous_total_micros),
      previousCumulativeBase:
        row.previous_cumulative_base === null ? 0n : bigintFromNumeric(row.previous_cumulative_base),
    }));
  }

  /**
   * Builds the pair's next voucher in one transaction: under a per-pair advisory lock, reads the
   * previous voucher's total and the oldest `maxReceipts` usage records not yet in a voucher,
   * asks `build` what to sign (null: nothing now), inserts the voucher as pending and links its
   * records. The natural key (payer, provider, cumulative amount) makes a repeated build insert
   * nothing; a record linked meanwhile by anyone else rolls the whole build back.
   */
  async buildVoucher(
    payer: Address,
    provider: Address,
    maxReceipts: number,
    build: (input: VoucherBuildInput) => Promise<NewVoucher | null>,
  ): Promise<VoucherBuildResult> {
    try {
      const built = await inTransaction(this.pool, async (client) => {
        await client.query("SELECT pg_advisory_xact_lock(hashtext('shareai.settlement.pair'), hashtext($1 || $2))", [
          payer,
          provider,
        ]);
        const previousTotalMicros = await previousTotal(client, payer, provider);
        const { rows } = await client.query<UnvoucheredReceiptRow>({
          name: "settlement_unvouchered_receipts",
          text: `
SELECT ${RECEIPT_COLUMNS_SQL}, created_at
FROM usage_records
WHERE account = $1 AND provider_address = $2 AND voucher_id IS NULL
ORDER BY created_at, request_id
LIMIT $3`,
          values: [payer, provider, maxReceipts + 1],
        });
        const truncated = rows.length > maxReceipts;
        const taken = truncated ? rows.slice(0, maxReceipts) : rows;
        if (taken.length === 0) throw new RollBack("no usage waits for a voucher");
        const decided = await build({ previousTotalMicros, receipts: taken.map(receiptOfRow), truncated });
        if (!decided) throw new RollBack("nothing to build");
        const byId = new Map(taken.map((row) => [row.request_id, row]));
        const covered = decided.requestIds.map((id) => {
          const row = byId.get(id);
          if (!row) throw new Error(`the voucher names request ${id}, which was not offered to it`);
          return row;
        });
        const inserted = await client.query<VoucherRow>(
          `
INSERT INTO vouchers (payer, provider, cumulative_amount_base, total_micros, carried_micros, usage_root,
                      receipt_count, first_receipt_at, last_receipt_at, signer, signature, signed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, now())
ON CONFLICT (payer, provider, cumulative_amount_base) DO NOTHING
RETURNING *`,
          [
            payer,
            provider,
            decided.cumulativeAmountBase.toString(),
            decided.totalMicros.toString(),
            decided.carriedMicros.toString(),
            decided.usageRoot,
            covered.length,
            minDate(covered),
            maxDate(covered),
            decided.signer,
            decided.signature,
          ],
        );
        if (inserted.rows.length === 0) throw new RollBack("the pair already has a voucher of this amount");
        const voucher = voucherFromRow(inserted.rows[0]);
        const linked = await client.query(
          "UPDATE usage_records SET voucher_id = $1 WHERE request_id = ANY($2::text[]) AND voucher_id IS NULL",
          [voucher.id, decided.requestIds],
        );
        if (linked.rowCount !== decided.requestIds.length) {
          throw new RollBack("some of its usage records were taken by another voucher meanwhile");
        }
        return voucher;
      });
      return { built };
    } catch (error) {
      if (error instanceof RollBack) return { built: null, reason: error.reason };
      throw error;
    }
  }

  async byId(id: number): Promise<VoucherRecord | null> {
    const { rows } = await this.pool.query<VoucherRow>("SELECT * FROM vouchers WHERE id = $1", [id]);
    return rows.length ? voucherFromRow(rows[0]) : null;
  }

  async byIds(ids: readonly number[]): Promise<VoucherRecord[]> {
    const { rows } = await this.pool.query<VoucherRow>(
      "SELECT * FROM vouchers WHERE id = ANY($1::bigint[]) ORDER BY id",
      [ids],
    );
    return rows.map(voucherFromRow);
  }

  /** A pair's vouchers, oldest (lowest amount) first. */
  async forPair(payer: Address, provider: Address): Promise<VoucherRecord[]> {
    const { rows } = await this.pool.query<VoucherRow>(
      "SELECT * FROM vouchers WHERE payer = $1 AND provider = $2 ORDER BY cumulative_amount_base",
      [payer, provider],
    );
    return rows.map(voucherFromRow);
  }

  /** Vouchers in `states`, in the order they must reach the escrow: by pair, then by amount. */
  async inStates(states: readonly VoucherState[], limit = 10_000): Promise<VoucherRecord[]> {
    const { rows } = await this.pool.query<VoucherRow>(
      `SELECT * FROM vouchers WHERE state = ANY($1::text[])
       ORDER BY payer, provider, cumulative_amount_base LIMIT $2`,
      [states, limit],
    );
    return rows.map(voucherFromRow);
  }

  /** The voucher whose usage root holds `requestId`'s receipt (null: not in a voucher yet). */
  async forRequest(requestId: string): Promise<VoucherRecord | null> {
    const { rows } = await this.pool.query<VoucherRow>(
      "SELECT v.* FROM usage_records u JOIN vouchers v ON v.id = u.voucher_id WHERE u.request_id = $1",
      [requestId],
    );
    return rows.length ? voucherFromRow(rows[0]) : null;
  }

  /** Each payer's newest voucher at `provider`: what a provider exports to settle by itself. */
  async latestForProvider(provider: Address): Promise<VoucherRecord[]> {
    const { rows } = await this.pool.query<VoucherRow>(
      `SELECT DISTINCT ON (payer) * FROM vouchers WHERE provider = $1
       ORDER BY payer, cumulative_amount_base DESC`,
      [provider],
    );
    return rows.map(voucherFromRow);
  }

  /** Every mined inclusion of a voucher, oldest first: the transaction, its block, what it paid. */
  async settlementsOf(voucherId: number): Promise<VoucherSettlementRecord[]> {
    const { rows } = await this.pool.query<{
      tx_hash: string;
      block_number: string;
      block_hash: string;
      log_index: number | null;
      paid_base: string;
      settled_after_base: string;
    }>(
      `SELECT tx_hash, block_number, block_hash, log_index, paid_base, settled_after_base
       FROM voucher_settlements WHERE voucher_id = $1 ORDER BY block_number, tx_hash`,
      [voucherId],
    );
    return rows.map((row) => ({
      txHash: row.tx_hash,
      blockNumber: Number(row.block_number),
      blockHash: row.block_hash,
      logIndex: row.log_index,
      paidBase: bigintFromNumeric(row.paid_base),
      settledAfterBase: bigintFromNumeric(row.settled_after_base),
    }));
  }

  /** Request ids of a voucher's receipts. */
  async requestIdsOf(voucherId: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ request_id: string }>(
      "SELECT request_id FROM usage_records WHERE voucher_id = $1 ORDER BY request_id",
      [voucherId],
    );
    return rows.map((row) => row.request_id);
  }

  /** How many vouchers there are in each state. */
  async countByState(): Promise<Partial<Record<VoucherState, number>>> {
    const { rows } = await this.pool.query<{ state: VoucherState; count: number }>(
      "SELECT state, count(*)::int AS count FROM vouchers GROUP BY state",
    );
    return Object.fromEntries(rows.map((row) => [row.state, row.count]));
  }

  /** The signers of vouchers that still have to pay: pending, in flight, or paid only in part. */
  async signersOfUnsettled(): Promise<Address[]> {
    const { rows } = await this.pool.query<{ signer: string }>(
      `SELECT DISTINCT signer FROM vouchers
       WHERE state IN ('pending', 'submitted')
          OR (state = 'confirmed' AND (settled_base IS NULL OR settled_base < cumulative_amount_base))`,
    );
    return rows.map((row) => row.signer);
  }

  /** Vouchers signed by `signer` that are not in flight and still have to pay (re-signable now). */
  async resignable(signer: Address): Promise<VoucherRecord[]> {
    const { rows } = await this.pool.query<VoucherRow>(
      `SELECT * FROM vouchers
       WHERE signer = $1
         AND (state = 'pending' OR (state = 'confirmed' AND settled_base < cumulative_amount_base))
       ORDER BY id`,
      [signer],
    );
    return rows.map(voucherFromRow);
  }

  /** Replaces a voucher's signature (same voucher, new authorised signer); only while it is not in flight. */
  async replaceSignature(id: number, previousSigner: Address, signer: Address, signature: string): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE vouchers SET signer = $3, signature = $4, signed_at = now(), updated_at = now(), last_error = NULL
       WHERE id = $1 AND signer = $2 AND state IN ('pending', 'confirmed')`,
      [id, previousSigner, signer, signature],
    );
    return result.rowCount === 1;
  }

  /** Accounts whose vouchers the escrow could not pay in full, with what is missing. */
  async shortfalls(): Promise<{ account: Address; shortfallBase: bigint }[]> {
    const { rows } = await this.pool.query<{ account: string; settlement_shortfall_base: string }>(
      `SELECT account, settlement_shortfall_base FROM account_balances
       WHERE settlement_shortfall_base > 0 ORDER BY account`,
    );
    return rows.map((row) => ({
      account: row.account,
      shortfallBase: bigintFromNumeric(row.settlement_shortfall_base),
    }));
  }

  /**
   * Sends the payer's partly paid vouchers (whose transaction is mined) back to pending, so the
   * next submission collects the rest; the escrow pays only what is still due.
   */
  async requeueShort(payer: Address): Promise<number> {
    const result = await this.pool.query(
      `UPDATE vouchers v SET state = 'pending', updated_at = now()
       WHERE v.payer = $1 AND v.state = 'confirmed' AND v.settled_base < v.cumulative_amount_base
         AND EXISTS (SELECT 1 FROM settlement_transactions t WHERE t.hash = v.tx_hash AND t.state IN ('mined', 'final'))`,
      [payer],
    );
    return result.rowCount ?? 0;
  }

  /** Notes why a voucher could not be submitted (shown in status and logs); it stays pending. */
  async noteError(ids: readonly number[], message: string): Promise<void> {
    await this.pool.query("UPDATE vouchers SET last_error = $2, updated_at = now() WHERE id = ANY($1::bigint[])", [
      ids,
      message.slice(0, 2000),
    ]);
  }
}

async function previousTotal(client: PoolClient, payer: Address, provider: Address): Promise<bigint> {
  const { rows } = await client.query<{ total_micros: string }>(
    `SELECT total_micros FROM vouchers WHERE payer = $1 AND provider = $2
     ORDER BY cumulative_amount_base DESC LIMIT 1`,
    [payer, provider],
  );
  return rows.length ? bigintFromNumeric(rows[0].total_micros) : 0n;
}

function minDate(rows: readonly UnvoucheredReceiptRow[]): Date {
  return rows.reduce((min, row) => (row.created_at < min ? row.created_at : min), rows[0].created_at);
}

function maxDate(rows: readonly UnvoucheredReceiptRow[]): Date {
  return rows.reduce((max, row) => (row.created_at > max ? row.created_at : max), rows[0].created_at);
}
