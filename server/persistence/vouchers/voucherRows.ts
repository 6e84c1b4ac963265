import type { Address } from "../../domain/types";
import { bigintFromNumeric, nullableBigintFromNumeric } from "../money";
import type { ReceiptRow } from "./receiptRows";

/**
 * Plain objects for the settlement tables (see the migration 1767398400000-Vouchers): what the
 * repositories return, never ORM entities. Money is bigint, ids and counts are numbers.
 */

export const VOUCHER_STATES = ["pending", "submitted", "confirmed", "final", "superseded"] as const;
/**
 * - pending: signed, not in any transaction on its way (new, or sent back: a reverted or dropped
 *   transaction, a reorg that took its transaction away and nothing re-mined it, a short payment
 *   to collect after a top-up).
 * - submitted: in a transaction that was broadcast and is not mined yet.
 * - confirmed: its latest transaction is mined; `paidBase` and `settledBase` say what it achieved.
 * - final: its transaction has the configured confirmations and the pair is settled at least up to it.
 * - superseded: the pair was settled past it by a later voucher while its own root never paid.
 */
export type VoucherState = (typeof VOUCHER_STATES)[number];

export interface VoucherRecord {
  id: number;
  payer: Address;
  provider: Address;
  cumulativeAmountBase: bigint;
  /** The pair's metered usage ever, this voucher's receipts included. */
  totalMicros: bigint;
  /** totalMicros mod 10^6: metered, not yet charged. */
  carriedMicros: bigint;
  usageRoot: string;
  receiptCount: number;
  firstReceiptAt: Date;
  lastReceiptAt: Date;
  signer: Address;
  signature: string;
  signedAt: Date;
  state: VoucherState;
  /** The latest transaction that carried it. */
  txHash: string | null;
  nonce: number | null;
  submittedAt: Date | null;
  confirmedBlock: number | null;
  /** What the escrow paid for this voucher, over all its settlements. */
  paidBase: bigint;
  /** The pair's settled amount on chain after the voucher's latest mined settlement (null: never mined). */
  settledBase: bigint | null;
  lastError: string | null;
  createdAt: Date;
}

export interface VoucherRow {
  id: string;
  payer: string;
  provider: string;
  cumulative_amount_base: string;
  total_micros: string;
  carried_micros: string;
  usage_root: string;
  receipt_count: number;
  first_receipt_at: Date;
  last_receipt_at: Date;
  signer: string;
  signature: string;
  signed_at: Date;
  state: VoucherState;
  tx_hash: string | null;
  nonce: string | null;
  submitted_at: Date | null;
  confirmed_block: string | null;
  paid_base: string;
  settled_base: string | null;
  last_error: string | null;
  created_at: Date;
}

export function voucherFromRow(row: VoucherRow): VoucherRecord {
  return {
    id: Number(row.id),
    payer: row.payer,
    provider: row.provider,
    cumulativeAmountBase: bigintFromNumeric(row.cumulative_amount_base),
    totalMicros: bigintFromNumeric(row.total_micros),
    carriedMicros: bigintFromNumeric(row.carried_micros),
    usageRoot: row.usage_root,
    receiptCount: row.receipt_count,
    firstReceiptAt: row.first_receipt_at,
    lastReceiptAt: row.last_receipt_at,
    signer: row.signer,
    signature: row.signature,
    signedAt: row.signed_at,
    state: row.state,
    txHash: row.tx_hash,
    nonce: row.nonce === null ? null : Number(row.nonce),
    submittedAt: row.submitted_at,
    confirmedBlock: row.confirmed_block === null ? null : Number(row.confirmed_block),
    paidBase: bigintFromNumeric(row.paid_base),
    settledBase: nullableBigintFromNumeric(row.settled_base),
    lastError: row.last_error,
    createdAt: row.created_at,
  };
}

export const SETTLEMENT_TX_STATES = ["sent", "mined", "final", "replaced", "dropped", "failed"] as const;
/**
 * - sent: signed and recorded (then broadcast); not mined yet.
 * - replaced: a fee bump with the same nonce was sent; this one may still be the one mined.
 * - mined: in a block, fewer confirmations than configured.
 * - final: mined with the configured confirmations.
 * - dropped: another transaction took its nonce (its replacement, or one sent outside the worker).
 * - failed: mined and reverted.
 */
export type SettlementTxState = (typeof SETTLEMENT_TX_STATES)[number];

export interface SettlementTxFees {
  /** EIP-1559; null on a legacy-fee chain. */
  maxFeePerGas: bigint | null;
  maxPriorityFeePerGas: bigint | null;
  /** Legacy fee; null on an EIP-1559 chain. */
  gasPrice: bigint | null;
}

export interface SettlementTxRecord extends SettlementTxFees {
  id: number;
  hash: string;
  submitter: Address;
  nonce: number;
  voucherIds: number[];
  gasLimit: bigint;
  /** The signed transaction, so it can be broadcast again after a crash or a dropped mempool. */
  raw: string;
  state: SettlementTxState;
  replacesId: number | null;
  sentAt: Date;
  blockNumber: number | null;
  blockHash: string | null;
  gasUsed: bigint | null;
  effectiveGasPrice: bigint | null;
  error: string | null;
}

export interface SettlementTxRow {
  id: string;
  hash: string;
  submitter: string;
  nonce: string;
  voucher_ids: string[];
  gas_limit: string;
  max_fee_per_gas: string | null;
  max_priority_fee_per_gas: string | null;
  gas_price: string | null;
  raw: string;
  state: SettlementTxState;
  replaces_id: string | null;
  sent_at: Date;
  block_number: string | null;
  block_hash: string | null;
  gas_used: string | null;
  effective_gas_price: string | null;
  error: string | null;
}

export function settlementTxFromRow(row: SettlementTxRow): SettlementTxRecord {
  return {
    id: Number(row.id),
    hash: row.hash,
    submitter: row.submitter,
    nonce: Number(row.nonce),
    voucherIds: row.voucher_ids.map(Number),
    gasLimit: bigintFromNumeric(row.gas_limit),
    maxFeePerGas: nullableBigintFromNumeric(row.max_fee_per_gas),
    maxPriorityFeePerGas: nullableBigintFromNumeric(row.max_priority_fee_per_gas),
    gasPrice: nullableBigintFromNumeric(row.gas_price),
    raw: row.raw,
    state: row.state,
    replacesId: row.replaces_id === null ? null : Number(row.replaces_id),
    sentAt: row.sent_at,
    blockNumber: row.block_number === null ? null : Number(row.block_number),
    blockHash: row.block_hash,
    gasUsed: nullableBigintFromNumeric(row.gas_used),
    effectiveGasPrice: nullableBigintFromNumeric(row.effective_gas_price),
    error: row.error,
  };
}

/** A usage record not yet in a voucher: its receipt columns, and its time for the interval rule. */
export interface UnvoucheredReceiptRow extends ReceiptRow {
  created_at: Date;
}

/** A (payer, provider) pair with usage not yet in a voucher, and the pair's previous voucher. */
export interface UnvoucheredPair {
  payer: Address;
  provider: Address;
  /** Σ cost of the usage records not yet in a voucher. */
  unvoucheredMicros: bigint;
  unvoucheredCount: number;
  /** When the oldest of them was recorded. */
  oldestUnvoucheredAt: Date;
  /** The pair's metered total up to its previous voucher (0 without one). */
  previousTotalMicros: bigint;
  previousCumulativeBase: bigint;
}

/** One mined inclusion of a voucher in a `settle` transaction. */
export interface VoucherSettlementRecord {
  txHash: string;
  blockNumber: number;
  blockHash: string;
  /** Its `Settled` log; null when the escrow paid it nothing there (no event). */
  logIndex: number | null;
  paidBase: bigint;
  /** The pair's settled amount on chain after it. */
  settledAfterBase: bigint;
}
