import type { Logger } from "pino";
import type { SettlementTxRepository } from "../../persistence/vouchers/settlementTxRepository";
import type { VoucherRepository } from "../../persistence/vouchers/voucherRepository";
import type { SettlementChain } from "./settlementChain";
import type { SettlementSettings } from "./settlementSettings";

/** What every step of the settlement loop works with. */
export interface SettlementContext {
  vouchers: VoucherRepository;
  transactions: SettlementTxRepository;
  chain: SettlementChain;
  settings: SettlementSettings;
  logger: Logger;
  clock: () => Date;
}

/** What one tick did, step by step; zeros when a step had nothing to do. */
export interface TickReport {
  at: Date;
  durationMs: number;
  /** False: another instance leads, and this tick did nothing. */
  leader: boolean;
  vouchersBuilt: number;
  receiptsLinked: number;
  vouchersResigned: number;
  vouchersRequeued: number;
  transactionsSent: number;
  vouchersSubmitted: number;
  transactionsMined: number;
  transactionsFinal: number;
  transactionsReverted: number;
  transactionsReorged: number;
  transactionsBumped: number;
  transactionsRebroadcast: number;
  transactionsDropped: number;
  /** Problems that did not stop the tick (a pair that failed to build, a batch that would revert). */
  warnings: string[];
  /** Milliseconds spent in each step. */
  stepMs: Partial<Record<SettlementStep, number>>;
}

export type SettlementStep = "watch" | "shortfalls" | "signers" | "build" | "submit";

export function emptyReport(at: Date, leader: boolean): TickReport {
  return {
    at,
    durationMs: 0,
    leader,
    vouchersBuilt: 0,
    receiptsLinked: 0,
    vouchersResigned: 0,
    vouchersRequeued: 0,
    transactionsSent: 0,
    vouchersSubmitted: 0,
    transactionsMined: 0,
    transactionsFinal: 0,
    transactionsReverted: 0,
    transactionsReorged: 0,
    transactionsBumped: 0,
    transactionsRebroadcast: 0,
    transactionsDropped: 0,
    warnings: [],
    stepMs: {},
  };
}
