import type { Pool, PoolClient } from "pg";
import type { Address } from "../../domain/types";
import { inTransaction } from "./inTransaction";
import { refreshShortfalls } from "./shortfall";
import {
  settlementTxFromRow,
  type SettlementTxFees,
  type SettlementTxRecord,
  type SettlementTxRow,
} from "./voucherRows";

/** A `settle` transaction signed by the submitter, not yet recorded. */
export interface SignedSettlementTx extends SettlementTxFees {
  hash: string;
  raw: string;
  nonce: number;
  gasLimit: bigint;
}

/** Where a transaction was mined. */
export interface MinedAt {
  blockNumber: number;
  blockHash: string;
  gasUsed: bigint;
  effectiveGasPrice: bigint | null;
}

/** One voucher's outcome in a mined transaction: its `Settled` event, or none (paid 0). */
export interface VoucherSettlement {
  voucherId: number;
  /** Index of its `Settled` log in the block; null when the escrow paid it nothing (no event). */
  logIndex: number | null;
  paidBase: bigint;
  /** The pair's settled amount on chain after this voucher. */
  settledAfterBase: bigint;
}

const OPEN_STATES = ["sent", "replaced", "mined"];

/**
 * The lifecycle of `settle` transactions and what they did to their vouchers. Each method is one
 * database transaction; each moves vouchers and transactions together, so a crash between two
 * of them leaves a state the next tick can continue from.
 */
export class SettlementTxRepository {
  constructor(private readonly pool: Pool) {}

  /**
   * Records a new transaction carrying `voucherIds` before it is broadcast (write-ahead): takes
   * the submitter's next nonce (the larger of the one tracked here and the chain's pending
   * count), lets `sign` build and sign the transaction with it, stores it with its raw bytes, and
   * marks the vouchers submitted. Returns null, recording nothing, when a voucher is no longer
   * pending (another instance took it).
   */
  async recordSubmission(
    submitter: Address,
    chainPendingNonce: number,
    voucherIds: readonly number[],
    sign: (nonce: number) => Promise<SignedSettlementTx>,
  ): Promise<SettlementTxRecord | null> {
    return inTransaction(this.pool, async (client) => {
      await client.query(
        "INSERT INTO settlement_submitters (address, next_nonce) VALUES ($1, $2) ON CONFLICT (address) DO NOTHING",
        [submitter, chainPendingNonce],
      );
      const { rows } = await client.query<{ next_nonce: string }>(
        "SELECT next_nonce FROM settlement_submitters WHERE address = $1 FOR UPDATE",
        [submitter],
      );
      const nonce = Math.max(Number(rows[0].next_nonce), chainPendingNonce);
      const claimed = await client.query(
        "SELECT id FROM vouchers WHERE id = ANY($1::bigint[]) AND state = 'pending' FOR UPDATE",
        [voucherIds],
      );
      if (claimed.rowCount !== voucherIds.length) return null;
      const signed = await sign(nonce);
      const tx = await insertTx(client, submitter, voucherIds, signed, null);
      await client.query(
        `UPDATE vouchers SET state = 'submitted', tx_hash = $2, nonce = $3, submitted_at = now(), updated_at = now(),
                             last_error = NULL
         WHERE id = ANY($1::bigint[])`,
        [voucherIds, tx.hash, nonce],
      );
      await client.query("UPDATE settlement_submitters SET next_nonce = $2, updated_at = now() WHERE address = $1", [
        submitter,
        nonce + 1,
      ]);
      return tx;
    });
  }

  /** Records a fee bump: a new transaction with `old`'s nonce and vouchers; `old` becomes replaced. */
  async recordReplacement(old: SettlementTxRecord, signed: SignedSettlementTx): Promise<SettlementTxRecord> {
    if (signed.nonce !== old.nonce) throw new Error(`a replacement must reuse nonce ${old.nonce}, not ${signed.nonce}`);
    return inTransaction(this.pool, async (client) => {
      const tx = await insertTx(client, old.submitter, old.voucherIds, signed, old.id);
      await client.query("UPDATE settlement_transactions SET state = 'replaced' WHERE id = $1 AND state = 'sent'", [
        old.id,
      ]);
      await client.query(
        "UPDATE vouchers SET tx_hash = $2, updated_at = now() WHERE tx_hash = $1 AND state = 'submitted'",
        [old.hash, tx.hash],
      );
      return tx;
    });
  }

  /** The submitter's transactions that are not settled yet: sent, replaced (may still be mined) and mined. */
  async open(submitter: Address): Promise<SettlementTxRecord[]> {
    const { rows } = await this.pool.query<SettlementTxRow>(
      `SELECT * FROM settlement_transactions WHERE submitter = $1 AND state = ANY($2::text[]) ORDER BY nonce, id`,
      [submitter, OPEN_STATES],
    );
    return rows.map(settlementTxFromRow);
  }

  /** Every transaction with `nonce` (the original and its fee bumps), whatever their state. */
  async family(submitter: Address, nonce: number): Promise<SettlementTxRecord[]> {
    const { rows } = await this.pool.query<SettlementTxRow>(
      "SELECT * FROM settlement_transactions WHERE submitter = $1 AND nonce = $2 ORDER BY id",
      [submitter, nonce],
    );
    return rows.map(settlementTxFromRow);
  }

  async byHash(hash: string): Promise<SettlementTxRecord | null> {
    const { rows } = await this.pool.query<SettlementTxRow>("SELECT * FROM settlement_transactions WHERE hash = $1", [
      hash,
    ]);
    return rows.length ? settlementTxFromRow(rows[0]) : null;
  }

  async all(): Promise<SettlementTxRecord[]> {
    const { rows } = await this.pool.query<SettlementTxRow>("SELECT * FROM settlement_transactions ORDER BY id");
    return rows.map(settlementTxFromRow);
  }

  /**
   * `tx` is mined and succeeded: its siblings of the same nonce are dropped, each voucher's
   * outcome is recorded (replacing what an earlier look at this transaction recorded, e.g. in a
   * block since reorganised away), the vouchers become confirmed (or superseded: paid nothing,
   * covered by a later voucher of the pair that did pay), and the payers' shortfalls are refreshed.
   */
  async recordMined(tx: SettlementTxRecord, mined: MinedAt, settlements: readonly VoucherSettlement[]): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        `UPDATE settlement_transactions
         SET state = 'mined', block_number = $2, block_hash = $3, gas_used = $4, effective_gas_price = $5, error = NULL
         WHERE id = $1`,
        [
          tx.id,
          mined.blockNumber,
          mined.blockHash,
          mined.gasUsed.toString(),
          mined.effectiveGasPrice?.toString() ?? null,
        ],
      );
      await dropSiblings(client, tx);
      await client.query("DELETE FROM voucher_settlements WHERE tx_hash = $1", [tx.hash]);
      await client.query(
        `INSERT INTO voucher_settlements (voucher_id, tx_hash, block_number, block_hash, log_index, paid_base, settled_after_base)
         SELECT v, $2, $3, $4, l, p, s
         FROM unnest($1::bigint[], $5::int[], $6::numeric[], $7::numeric[]) AS t(v, l, p, s)`,
        [
          settlements.map((s) => s.voucherId),
          tx.hash,
          mined.blockNumber,
          mined.blockHash,
          settlements.map((s) => s.logIndex),
          settlements.map((s) => s.paidBase.toString()),
          settlements.map((s) => s.settledAfterBase.toString()),
        ],
      );
      await refreshPaid(client, tx.voucherIds);
      // A voucher moved on to a later transaction (requeued and sent again) keeps that one's state.
      await client.query(
        `UPDATE vouchers v
         SET state = CASE
               WHEN v.paid_base = 0 AND v.settled_base >= v.cumulative_amount_base AND EXISTS (
                 SELECT 1 FROM vouchers w
                 WHERE w.payer = v.payer AND w.provider = v.provider
                   AND w.cumulative_amount_base > v.cumulative_amount_base AND w.paid_base > 0)
               THEN 'superseded' ELSE 'confirmed' END,
             tx_hash = $2, confirmed_block = $3, updated_at = now()
         WHERE v.id = ANY($1::bigint[]) AND v.state IN ('submitted', 'confirmed', 'superseded')
           AND v.tx_hash IN (SELECT hash FROM settlement_transactions WHERE submitter = $4 AND nonce = $5)`,
        [tx.voucherIds, tx.hash, mined.blockNumber, tx.submitter, tx.nonce],
      );
      await refreshShortfalls(client, await payersOf(client, tx.voucherIds));
    });
  }

  /** `tx` is mined and reverted: nothing was paid; its vouchers go back to pending with the reason. */
  async recordReverted(tx: SettlementTxRecord, mined: MinedAt, reason: string): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        `UPDATE settlement_transactions
         SET state = 'failed', block_number = $2, block_hash = $3, gas_used = $4, effective_gas_price = $5, error = $6
         WHERE id = $1`,
        [
          tx.id,
          mined.blockNumber,
          mined.blockHash,
          mined.gasUsed.toString(),
          mined.effectiveGasPrice?.toString() ?? null,
          reason.slice(0, 2000),
        ],
      );
      await dropSiblings(client, tx);
      await backToPending(client, tx, `transaction ${tx.hash} reverted: ${reason}`);
    });
  }

  /** `tx` has the configured confirmations: it and the vouchers it settled in full are final. */
  async recordFinal(tx: SettlementTxRecord): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query("UPDATE settlement_transactions SET state = 'final' WHERE id = $1 AND state = 'mined'", [
        tx.id,
      ]);
      // Every confirmed voucher of the touched pairs whose amount the pair's settled amount, as of a
      // final transaction, reaches: this transaction's own, and earlier short ones it made whole.
      await client.query(
        `WITH pairs AS (
           SELECT DISTINCT payer, provider FROM vouchers WHERE id = ANY($1::bigint[])
         ), settled AS (
           SELECT w.payer, w.provider, max(s.settled_after_base) AS settled_base
           FROM voucher_settlements s
           JOIN vouchers w ON w.id = s.voucher_id
           JOIN settlement_transactions t ON t.hash = s.tx_hash AND t.state = 'final'
           JOIN pairs p ON p.payer = w.payer AND p.provider = w.provider
           GROUP BY w.payer, w.provider
         )
         UPDATE vouchers v SET state = 'final', updated_at = now()
         FROM settled
         WHERE v.payer = settled.payer AND v.provider = settled.provider AND v.state = 'confirmed'
           AND v.cumulative_amount_base <= settled.settled_base
           AND EXISTS (SELECT 1 FROM settlement_transactions t WHERE t.hash = v.tx_hash AND t.state = 'final')`,
        [tx.voucherIds],
      );
    });
  }

  /**
   * `tx` is no longer in the canonical chain (its receipt is gone): what it paid is forgotten, it
   * is sent again (the worker rebroadcasts it), and its vouchers are submitted again.
   */
  async recordReorged(tx: SettlementTxRecord): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        `UPDATE settlement_transactions
         SET state = 'sent', block_number = NULL, block_hash = NULL, gas_used = NULL, effective_gas_price = NULL,
             sent_at = now()
         WHERE id = $1`,
        [tx.id],
      );
      await client.query("DELETE FROM voucher_settlements WHERE tx_hash = $1", [tx.hash]);
      await refreshPaid(client, tx.voucherIds);
      await client.query(
        `UPDATE vouchers SET state = 'submitted', confirmed_block = NULL, updated_at = now()
         WHERE tx_hash = $1 AND state IN ('confirmed', 'final', 'superseded')`,
        [tx.hash],
      );
      await refreshShortfalls(client, await payersOf(client, tx.voucherIds));
    });
  }

  /**
   * No transaction of `nonce` was mined, and the nonce is used (or the transaction vanished):
   * every open one of them is dropped and their vouchers go back to pending.
   */
  async recordDropped(tx: SettlementTxRecord, reason: string): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        `UPDATE settlement_transactions SET state = 'dropped', error = $3
         WHERE submitter = $1 AND nonce = $2 AND state IN ('sent', 'replaced')`,
        [tx.submitter, tx.nonce, reason.slice(0, 2000)],
      );
      await backToPending(client, tx, reason);
    });
  }
}

async function insertTx(
  client: PoolClient,
  submitter: Address,
  voucherIds: readonly number[],
  signed: SignedSettlementTx,
  replacesId: number | null,
): Promise<SettlementTxRecord> {
  const { rows } = await client.query<SettlementTxRow>(
    `INSERT INTO settlement_transactions (hash, submitter, nonce, voucher_ids, gas_limit, max_fee_per_gas,
                                          max_priority_fee_per_gas, gas_price, raw, state, replaces_id, sent_at)
     VALUES ($1, $2, $3, $4::bigint[], $5, $6, $7, $8, $9, 'sent', $10, now())
     RETURNING *`,
    [
      signed.hash,
      submitter,
      signed.nonce,
      voucherIds,
      signed.gasLimit.toString(),
      signed.maxFeePerGas?.toString() ?? null,
      signed.maxPriorityFeePerGas?.toString() ?? null,
      signed.gasPrice?.toString() ?? null,
      signed.raw,
      replacesId,
    ],
  );
  return settlementTxFromRow(rows[0]);
}

/** The other transactions of `tx`'s nonce can never be mined now. */
async function dropSiblings(client: PoolClient, tx: SettlementTxRecord): Promise<void> {
  await client.query(
    `UPDATE settlement_transactions SET state = 'dropped'
     WHERE submitter = $1 AND nonce = $2 AND id <> $3 AND state IN ('sent', 'replaced')`,
    [tx.submitter, tx.nonce, tx.id],
  );
}

async function backToPending(client: PoolClient, tx: SettlementTxRecord, reason: string): Promise<void> {
  await client.query(
    `UPDATE vouchers SET state = 'pending', last_error = $3, updated_at = now()
     WHERE id = ANY($1::bigint[]) AND state = 'submitted'
       AND tx_hash IN (SELECT hash FROM settlement_transactions WHERE submitter = $2 AND nonce = $4)`,
    [tx.voucherIds, tx.submitter, reason.slice(0, 2000), tx.nonce],
  );
}

/** paid_base = Σ of the voucher's settlements; settled_base = the highest settled amount they saw. */
async function refreshPaid(client: PoolClient, voucherIds: readonly number[]): Promise<void> {
  await client.query(
    `UPDATE vouchers v
     SET paid_base = COALESCE(s.paid_base, 0), settled_base = s.settled_base
     FROM (
       SELECT v2.id, sum(x.paid_base) AS paid_base, max(x.settled_after_base) AS settled_base
       FROM vouchers v2 LEFT JOIN voucher_settlements x ON x.voucher_id = v2.id
       WHERE v2.id = ANY($1::bigint[])
       GROUP BY v2.id
     ) s
     WHERE v.id = s.id`,
    [voucherIds],
  );
}

async function payersOf(client: PoolClient, voucherIds: readonly number[]): Promise<string[]> {
  const { rows } = await client.query<{ payer: string }>(
    "SELECT DISTINCT payer FROM vouchers WHERE id = ANY($1::bigint[])",
    [voucherIds],
  );
  return rows.map((row) => row.payer);
}
