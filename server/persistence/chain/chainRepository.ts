import type { ClientBase, Pool } from "pg";
import type { BlockRef } from "../../chain/chainReader";
import { eventFromJson, type EscrowEvent } from "../../chain/escrowEvents";
import type { PayerBalance } from "../../chain/payerBalance";
import type { Address } from "../../domain/types";
import { normalizeAddress } from "../address";
import { readCursor, type ChainCursor } from "./chainCursor";
import { applySettlementToLedger } from "./settlementLedger";

/** One applied `Settled` event (`chain_settlements`); amounts in base units. */
export interface ChainSettlement {
  txHash: string;
  logIndex: number;
  blockNumber: number;
  payer: Address;
  provider: Address;
  /** The pair's settled amount after this payment. */
  cumulativeBase: bigint;
  paidBase: bigint;
  providerShareBase: bigint;
  feeBase: bigint;
  usageRoot: string;
  /** Who the fee accrued to; null if the watcher never saw a TreasuryChanged before it. */
  treasury: Address | null;
  /** What applying it took off the payer's unsettled usage (≤ paid × 10^6). */
  ledgerMicros: bigint;
}

/** Per (payer, provider) totals of the applied settlements (`chain_pair_settlements`). */
export interface PairSettlement {
  payer: Address;
  provider: Address;
  /** The escrow's `settledAmount(payer, provider)` as of the cursor. */
  settledBase: bigint;
  paidBase: bigint;
  providerShareBase: bigint;
  feeBase: bigint;
  settlementCount: number;
  lastTxHash: string;
  lastBlockNumber: number;
  updatedAt: Date;
}

/** A payee's earnings (`chain_earnings`): `unclaimedBase` is the escrow's `earningsOf(payee)` as of the cursor. */
export interface PayeeEarnings {
  payee: Address;
  earnedBase: bigint;
  claimedBase: bigint;
  unclaimedBase: bigint;
  updatedAt: Date;
}

/** A payer's `balanceOf` as of the cursor (`chain_payer_balances`). */
export interface MirroredPayerBalance extends PayerBalance {
  payer: Address;
  updatedAt: Date;
}

export type RecordedEvent = EscrowEvent & { appliedAt: Date };

export interface ChainReorg {
  detectedAt: Date;
  /** Everything after this block was rolled back. */
  commonBlock: number;
  previousCursorBlock: number;
  previousCursorHash: string | null;
  eventsRemoved: number;
}

/**
 * What the chain watcher has applied, for the settlement worker, reconcile, the
 * CLI and the tests. Read-only, apart from `applySettlementToLedger`, which is
 * the watcher's hook (see `settlementLedger.ts`). Everything here reflects
 * confirmed events only, up to `cursor().blockNumber`.
 */
export class ChainRepository {
  constructor(private readonly pool: Pool) {}

  /** Takes a Settled payment off the payer's unsettled usage; the watcher calls it, nobody else should. */
  readonly applySettlementToLedger = (tx: ClientBase, payer: string, paidBase: bigint): Promise<bigint> =>
    applySettlementToLedger(tx, payer, paidBase);

  /** Which escrow this database mirrors and the last block applied; null before the watcher first ran. */
  cursor(): Promise<ChainCursor | null> {
    return readCursor(this.pool);
  }

  /** The blocks the watcher would check for a reorganisation, newest first. */
  async rememberedBlocks(): Promise<BlockRef[]> {
    const { rows } = await this.pool.query<{ block_number: string; block_hash: string }>(
      `SELECT block_number, block_hash FROM chain_blocks ORDER BY block_number DESC`,
    );
    return rows.map((row) => ({ number: Number(row.block_number), hash: row.block_hash }));
  }

  async payerBalance(payer: string): Promise<MirroredPayerBalance | null> {
    const { rows } = await this.pool.query<PayerBalanceRow>(
      `SELECT payer, available_base, thawing_base, thaw_ends_at, updated_at FROM chain_payer_balances WHERE payer = $1`,
      [normalizeAddress(payer)],
    );
    return rows.length === 0 ? null : payerBalanceFromRow(rows[0]);
  }

  async payerBalances(): Promise<MirroredPayerBalance[]> {
    const { rows } = await this.pool.query<PayerBalanceRow>(
      `SELECT payer, available_base, thawing_base, thaw_ends_at, updated_at FROM chain_payer_balances ORDER BY payer`,
    );
    return rows.map(payerBalanceFromRow);
  }

  async pairSettlement(payer: string, provider: string): Promise<PairSettlement | null> {
    const { rows } = await this.pool.query<PairRow>(`${PAIR_SELECT} WHERE payer = $1 AND provider = $2`, [
      normalizeAddress(payer),
      normalizeAddress(provider),
    ]);
    return rows.length === 0 ? null : pairFromRow(rows[0]);
  }

  async pairSettlements(): Promise<PairSettlement[]> {
    const { rows } = await this.pool.query<PairRow>(`${PAIR_SELECT} ORDER BY payer, provider`);
    return rows.map(pairFromRow);
  }

  /** The pair's applied Settled events, oldest first. */
  async settlementsOfPair(payer: string, provider: string): Promise<ChainSettlement[]> {
    const { rows } = await this.pool.query<SettlementRow>(
      `${SETTLEMENT_SELECT} WHERE payer = $1 AND provider = $2 ORDER BY block_number, log_index`,
      [normalizeAddress(payer), normalizeAddress(provider)],
    );
    return rows.map(settlementFromRow);
  }

  /** The applied Settled events of one transaction: how a submitted batch is seen confirmed. */
  async settlementsInTransaction(txHash: string): Promise<ChainSettlement[]> {
    const { rows } = await this.pool.query<SettlementRow>(
      `${SETTLEMENT_SELECT} WHERE tx_hash = $1 ORDER BY log_index`,
      [txHash.toLowerCase()],
    );
    return rows.map(settlementFromRow);
  }

  /** Every applied Settled event, in chain order. */
  async settlements(): Promise<ChainSettlement[]> {
    const { rows } = await this.pool.query<SettlementRow>(`${SETTLEMENT_SELECT} ORDER BY block_number, log_index`);
    return rows.map(settlementFromRow);
  }

  async earnings(payee: string): Promise<PayeeEarnings | null> {
    const { rows } = await this.pool.query<EarningsRow>(`${EARNINGS_SELECT} WHERE payee = $1`, [
      normalizeAddress(payee),
    ]);
    return rows.length === 0 ? null : earningsFromRow(rows[0]);
  }

  async allEarnings(): Promise<PayeeEarnings[]> {
    const { rows } = await this.pool.query<EarningsRow>(`${EARNINGS_SELECT} ORDER BY payee`);
    return rows.map(earningsFromRow);
  }

  /** Applied events in chain order, from `fromBlock` on. */
  async events(options: { fromBlock?: number; limit?: number } = {}): Promise<RecordedEvent[]> {
    const { rows } = await this.pool.query<{
      tx_hash: string;
      log_index: number;
      block_number: string;
      block_hash: string;
      name: string;
      args: unknown;
      applied_at: Date;
    }>(
      `SELECT tx_hash, log_index, block_number, block_hash, name, args, applied_at FROM chain_events
       WHERE block_number >= $1 ORDER BY block_number, log_index LIMIT $2`,
      [options.fromBlock ?? 0, options.limit ?? null],
    );
    return rows.map((row) => ({
      ...eventFromJson(row.name, row.args, {
        blockNumber: Number(row.block_number),
        blockHash: row.block_hash,
        txHash: row.tx_hash,
        logIndex: row.log_index,
      }),
      appliedAt: row.applied_at,
    }));
  }

  async reorgs(): Promise<ChainReorg[]> {
    const { rows } = await this.pool.query<{
      detected_at: Date;
      common_block: string;
      previous_cursor_block: string;
      previous_cursor_hash: string | null;
      events_removed: number;
    }>(
      `SELECT detected_at, common_block, previous_cursor_block, previous_cursor_hash, events_removed
       FROM chain_reorgs ORDER BY id`,
    );
    return rows.map((row) => ({
      detectedAt: row.detected_at,
      commonBlock: Number(row.common_block),
      previousCursorBlock: Number(row.previous_cursor_block),
      previousCursorHash: row.previous_cursor_hash,
      eventsRemoved: row.events_removed,
    }));
  }
}

interface PayerBalanceRow {
  payer: string;
  available_base: string;
  thawing_base: string;
  thaw_ends_at: string;
  updated_at: Date;
}

function payerBalanceFromRow(row: PayerBalanceRow): MirroredPayerBalance {
  return {
    payer: row.payer,
    availableBase: BigInt(row.available_base),
    thawingBase: BigInt(row.thawing_base),
    thawEndsAt: BigInt(row.thaw_ends_at),
    updatedAt: row.updated_at,
  };
}

const PAIR_SELECT = `SELECT payer, provider, settled_base, paid_base, provider_share_base, fee_base, settlement_count,
  last_tx_hash, last_block_number, updated_at FROM chain_pair_settlements`;

interface PairRow {
  payer: string;
  provider: string;
  settled_base: string;
  paid_base: string;
  provider_share_base: string;
  fee_base: string;
  settlement_count: number;
  last_tx_hash: string;
  last_block_number: string;
  updated_at: Date;
}

function pairFromRow(row: PairRow): PairSettlement {
  return {
    payer: row.payer,
    provider: row.provider,
    settledBase: BigInt(row.settled_base),
    paidBase: BigInt(row.paid_base),
    providerShareBase: BigInt(row.provider_share_base),
    feeBase: BigInt(row.fee_base),
    settlementCount: row.settlement_count,
    lastTxHash: row.last_tx_hash,
    lastBlockNumber: Number(row.last_block_number),
    updatedAt: row.updated_at,
  };
}

const SETTLEMENT_SELECT = `SELECT tx_hash, log_index, block_number, payer, provider, cumulative_base, paid_base,
  provider_share_base, fee_base, usage_root, treasury, ledger_micros FROM chain_settlements`;

interface SettlementRow {
  tx_hash: string;
  log_index: number;
  block_number: string;
  payer: string;
  provider: string;
  cumulative_base: string;
  paid_base: string;
  provider_share_base: string;
  fee_base: string;
  usage_root: string;
  treasury: string | null;
  ledger_micros: string;
}

function settlementFromRow(row: SettlementRow): ChainSettlement {
  return {
    txHash: row.tx_hash,
    logIndex: row.log_index,
    blockNumber: Number(row.block_number),
    payer: row.payer,
    provider: row.provider,
    cumulativeBase: BigInt(row.cumulative_base),
    paidBase: BigInt(row.paid_base),
    providerShareBase: BigInt(row.provider_share_base),
    feeBase: BigInt(row.fee_base),
    usageRoot: row.usage_root,
    treasury: row.treasury,
    ledgerMicros: BigInt(row.ledger_micros),
  };
}

const EARNINGS_SELECT = `SELECT payee, earned_base, claimed_base, unclaimed_base, updated_at FROM chain_earnings`;

interface EarningsRow {
  payee: string;
  earned_base: string;
  claimed_base: string;
  unclaimed_base: string;
  updated_at: Date;
}

function earningsFromRow(row: EarningsRow): PayeeEarnings {
  return {
    payee: row.payee,
    earnedBase: BigInt(row.earned_base),
    claimedBase: BigInt(row.claimed_base),
    unclaimedBase: BigInt(row.unclaimed_base),
    updatedAt: row.updated_at,
  };
}
