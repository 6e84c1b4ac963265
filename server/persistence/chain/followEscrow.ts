import type { Pool } from "pg";
import { applyChainTickIn } from "./applyChainTick";
import {
  createCursor,
  ForeignEscrowError,
  lockCursor,
  readCursor,
  retargetCursor,
  type ChainCursor,
  type FollowedEscrow,
} from "./chainCursor";
import { inTransaction } from "./transaction";

export interface FollowEscrowOptions {
  /**
   * When the database mirrors another escrow: roll everything applied from it
   * back (balances, settlements, their effect on unsettled usage) and follow
   * `escrow` from its deployment block. For local chains, which are thrown
   * away and redeployed; elsewhere a different escrow is a configuration
   * mistake, refused with ForeignEscrowError.
   */
  allowEscrowChange?: boolean;
}

/** Refuses early (read-only, any instance) when the database mirrors another escrow and a change is not allowed. */
export async function assertFollowable(
  pool: Pool,
  escrow: FollowedEscrow,
  options: FollowEscrowOptions = {},
): Promise<void> {
  const cursor = await readCursor(pool);
  if (cursor && !isSameEscrow(cursor, escrow) && !options.allowEscrowChange)
    throw new ForeignEscrowError(cursor, escrow);
}

/**
 * Makes the cursor follow `escrow`: creates it before the deployment block on
 * a fresh database, keeps it when it already follows `escrow`, and otherwise
 * (another escrow, if allowed; or the same one from an earlier deployment
 * block) rolls everything applied back and starts over from the deployment
 * block. The leader calls it before its first tick.
 */
export function followEscrow(
  pool: Pool,
  escrow: FollowedEscrow,
  options: FollowEscrowOptions = {},
): Promise<{ cursor: ChainCursor; replaced: ChainCursor | null }> {
  return inTransaction(pool, async (tx) => {
    await createCursor(tx, escrow);
    const cursor = (await lockCursor(tx))!;
    const same = isSameEscrow(cursor, escrow);
    // A later deployment block than the stored one only means empty blocks were read; an earlier
    // one means history may have been skipped, so the same escrow is replayed from there.
    if (same && escrow.deploymentBlock >= cursor.deploymentBlock) return { cursor, replaced: null };
    if (!same && !options.allowEscrowChange) throw new ForeignEscrowError(cursor, escrow);
    const beforeDeployment = { blockNumber: cursor.deploymentBlock - 1, blockHash: null };
    await applyChainTickIn(tx, {
      expectedCursor: cursor,
      rollbackAfter: beforeDeployment.blockNumber,
      events: [],
      newCursor: beforeDeployment,
      blocks: [],
      forgetBelow: beforeDeployment.blockNumber,
    });
    await retargetCursor(tx, escrow);
    return { cursor: (await lockCursor(tx))!, replaced: cursor };
  });
}

function isSameEscrow(cursor: ChainCursor, escrow: FollowedEscrow): boolean {
  return cursor.chainId === escrow.chainId && cursor.escrow === escrow.escrow;
}
