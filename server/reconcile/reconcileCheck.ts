import type { Provider } from "ethers";
import type { UsageEscrow } from "../../typechain-types";
import type { ChainCursor } from "../persistence/chain/chainCursor";
import type { ChainRepository } from "../persistence/chain/chainRepository";
import type { VoucherRepository } from "../persistence/vouchers/voucherRepository";
import type { Queryable } from "../receipts/voucherReceipts";
import type { EscrowEvent } from "../chain/escrowEvents";

/** One check's verdict: what it proved, with figures, or the first difference it found. */
export type CheckOutcome = { ok: true; summary: string } | { ok: false; difference: string };

/**
 * What every check reads. The database side is one REPEATABLE READ snapshot (a running gateway
 * keeps metering and settling while reconcile reads); the chain side is read as of the chain
 * watcher's cursor block, the block the snapshot's mirror is exact at.
 */
export interface ReconcileContext {
  db: Queryable;
  vouchers: VoucherRepository;
  chain: ChainRepository;
  /** The mirror's cursor; checks that compare with the chain need it (the runner refuses without). */
  cursor: ChainCursor;
  provider: Provider;
  /** The escrow, read-only. */
  escrow: UsageEscrow;
  escrowAddress: string;
  chainId: bigint;
  feeBps: bigint;
  /** The escrow's events on chain from its deployment block to the cursor, decoded, in chain order (read once). */
  chainEvents(): Promise<EscrowEvent[]>;
}

export interface ReconcileCheck {
  /** Stable id, for scripts (`--json`). */
  name: string;
  /** What it proves, in words. */
  title: string;
  run(context: ReconcileContext): Promise<CheckOutcome>;
}

export function passed(summary: string): CheckOutcome {
  return { ok: true, summary };
}

export function differs(difference: string): CheckOutcome {
  return { ok: false, difference };
}
