import type { BlockRef, ChainReader } from "./chainReader";

export type ForkCheck =
  /** Every block the watcher remembers is still on the chain. */
  | { reorg: false }
  /**
   * The chain replaced blocks the watcher applied. `commonBlock` is the newest
   * remembered block still on the chain (everything after it must be rolled
   * back), or null when none is: the reorganisation is deeper than what the
   * watcher remembers (or the chain was replaced), and only a replay from the
   * deployment block is safe.
   */
  | { reorg: true; commonBlock: BlockRef | null };

/**
 * Compares the blocks the watcher remembers with the chain. `remembered` must
 * lie on one chain (the watcher prunes what it rolls back), newest first.
 *
 * A block's hash commits to all its ancestors, so when the newest remembered
 * block is still on the chain nothing older can have changed: one request per
 * tick. After a reorganisation the remembered blocks still on the chain are a
 * suffix of the list, found by binary search.
 */
export async function checkForFork(reader: ChainReader, remembered: readonly BlockRef[]): Promise<ForkCheck> {
  if (remembered.length === 0) return { reorg: false };
  const stillOnChain = async (block: BlockRef) => (await reader.blockAt(block.number))?.hash === block.hash;
  if (await stillOnChain(remembered[0])) return { reorg: false };

  // Invariant: remembered[low - 1] is gone; remembered[high] is on the chain, or high === length.
  let low = 1;
  let high = remembered.length;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (await stillOnChain(remembered[middle])) high = middle;
    else low = middle + 1;
  }
  return { reorg: true, commonBlock: high < remembered.length ? remembered[high] : null };
}
