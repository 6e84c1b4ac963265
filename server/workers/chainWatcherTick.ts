import type { Pool } from "pg";
import type { BlockRef, ChainReader } from "../chain/chainReader";
import { decodeEscrowLog, type EscrowEvent } from "../chain/escrowEvents";
import { checkForFork } from "../chain/forkPoint";
import { applyChainTick } from "../persistence/chain/applyChainTick";
import { CursorMovedError, readCursor, type ChainCursor, type CursorPosition } from "../persistence/chain/chainCursor";
import { ChainRepository } from "../persistence/chain/chainRepository";

export interface ChainTickSettings {
  /** An event is applied once its block has this many confirmations (the block itself counts as one). */
  confirmations: number;
  /** Blocks read and applied by one tick at most; a watcher far behind catches up over several. */
  maxBlocksPerTick: number;
  /** How far back a reorganisation can be recognised and rolled back to a common block. */
  maxReorgDepth: number;
}

export type LeaderTickOutcome =
  /** Nothing new was confirmed. */
  | "idle"
  /** Events were applied and/or rolled back, and the cursor moved. */
  | "applied"
  /** The chain changed while the tick read it; nothing was written, the next tick tries again. */
  | "chain-moved"
  /** Another instance moved the cursor while this one read the chain; nothing was written. */
  | "cursor-moved";

export interface LeaderTickResult {
  role: "leader";
  outcome: LeaderTickOutcome;
  head: number;
  /** The newest block with enough confirmations. */
  safeBlock: number;
  /** The cursor after the tick. */
  cursor: CursorPosition;
  eventsApplied: number;
  eventsRolledBack: number;
  /**
   * Set when the tick found blocks it had applied replaced (rolled back if the outcome is
   * "applied"); `commonBlock` null: nothing remembered was left, replayed from the deployment block.
   */
  reorg: { commonBlock: number | null } | null;
  /** False when confirmed blocks remain beyond this tick's reach: the next tick should come at once. */
  caughtUp: boolean;
}

interface TickPlan {
  /** What the chain data is read against and applied after. */
  anchor: CursorPosition;
  rollbackAfter: number | null;
  reorg: LeaderTickResult["reorg"];
}

/**
 * One tick of the leader: read (head, reorganisation check, confirmed logs)
 * outside any transaction, then write everything in one transaction that first
 * checks the cursor is still the one read against. See docs/chain-watcher.md.
 */
export async function runLeaderTick(
  pool: Pool,
  reader: ChainReader,
  settings: ChainTickSettings,
): Promise<LeaderTickResult> {
  const cursor = await readCursor(pool);
  if (!cursor) throw new Error("the chain cursor is missing: followEscrow must run before the first tick");
  const head = await reader.latestBlock();
  const safeBlock = head.number - Math.max(settings.confirmations, 1) + 1;
  const plan = await planTick(reader, cursor, await new ChainRepository(pool).rememberedBlocks());

  const from = plan.anchor.blockNumber + 1;
  const to = Math.min(safeBlock, plan.anchor.blockNumber + settings.maxBlocksPerTick);
  const result = (outcome: LeaderTickOutcome, position: CursorPosition, applied = 0, rolledBack = 0) => ({
    role: "leader" as const,
    outcome,
    head: head.number,
    safeBlock,
    cursor: { blockNumber: position.blockNumber, blockHash: position.blockHash },
    eventsApplied: applied,
    eventsRolledBack: rolledBack,
    reorg: plan.reorg,
    caughtUp: outcome !== "applied" || position.blockNumber >= safeBlock,
  });
  if (to < from && plan.rollbackAfter === null) return result("idle", cursor);

  let events: EscrowEvent[] = [];
  let newCursor = plan.anchor;
  let blocks: BlockRef[] = [];
  if (to >= from) {
    const read = await readConfirmedRange(reader, plan.anchor, from, to);
    if (!read) return result("chain-moved", cursor);
    ({ events } = read);
    newCursor = { blockNumber: read.end.number, blockHash: read.end.hash };
    blocks = [...events.map((event) => ({ number: event.blockNumber, hash: event.blockHash })), read.end];
  }

  try {
    const applied = await applyChainTick(pool, {
      expectedCursor: cursor,
      rollbackAfter: plan.rollbackAfter,
      events,
      newCursor,
      blocks,
      forgetBelow: newCursor.blockNumber - settings.maxReorgDepth,
    });
    return result("applied", newCursor, applied.eventsApplied, applied.eventsRolledBack);
  } catch (error) {
    if (error instanceof CursorMovedError) return result("cursor-moved", cursor);
    throw error;
  }
}

async function planTick(reader: ChainReader, cursor: ChainCursor, remembered: BlockRef[]): Promise<TickPlan> {
  const fork = await checkForFork(reader, remembered);
  if (!fork.reorg) return { anchor: cursor, rollbackAfter: null, reorg: null };
  if (fork.commonBlock) {
    const { number, hash } = fork.commonBlock;
    return { anchor: { blockNumber: number, blockHash: hash }, rollbackAfter: number, reorg: { commonBlock: number } };
  }
  // Nothing remembered is on the chain any more: a reorganisation deeper than the watcher
  // remembers, or a chain that was replaced (a restarted local node). Replaying from the
  // deployment block is slow but exact.
  const beforeDeployment = cursor.deploymentBlock - 1;
  return {
    anchor: { blockNumber: beforeDeployment, blockHash: null },
    rollbackAfter: beforeDeployment,
    reorg: { commonBlock: null },
  };
}

/**
 * The escrow's events in `[from, to]`, or null if the chain changed while they
 * were read. The end block is read before and after the logs, and the anchor
 * after them: if neither changed, the logs come from one chain that extends
 * the anchor (a block's hash commits to all its ancestors).
 */
async function readConfirmedRange(
  reader: ChainReader,
  anchor: CursorPosition,
  from: number,
  to: number,
): Promise<{ events: EscrowEvent[]; end: BlockRef } | null> {
  const endBefore = await reader.blockAt(to);
  const logs = await reader.escrowLogs(from, to);
  const [endAfter, anchorAfter] = await Promise.all([
    reader.blockAt(to),
    anchor.blockHash === null ? null : reader.blockAt(anchor.blockNumber),
  ]);
  if (!endBefore || !endAfter || endBefore.hash !== endAfter.hash) return null;
  if (anchor.blockHash !== null && anchorAfter?.hash !== anchor.blockHash) return null;
  const events = logs.map(decodeEscrowLog).filter((event): event is EscrowEvent => event !== null);
  const consistent = events.every(
    (event) =>
      event.blockNumber >= from &&
      event.blockNumber <= to &&
      (event.blockNumber !== to || event.blockHash === endAfter.hash),
  );
  return consistent ? { events, end: endAfter } : null;
}
