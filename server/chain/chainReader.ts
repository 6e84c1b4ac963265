import { getAddress, type Provider } from "ethers";
import type { RawLog } from "./escrowEvents";

/** A block as the watcher remembers it: enough to tell whether the chain still has it. */
export interface BlockRef {
  number: number;
  hash: string;
}

/**
 * The little of the chain the watcher reads, as a structural interface: the
 * watcher's logic runs against a fake in unit tests and against an ethers
 * Provider (`providerChainReader`) everywhere else.
 */
export interface ChainReader {
  chainId(): Promise<bigint>;
  /** The chain's newest block. */
  latestBlock(): Promise<BlockRef>;
  /** The block at `number` on the chain as the node sees it now, or null above its head. */
  blockAt(number: number): Promise<BlockRef | null>;
  /** The escrow's logs in `[fromBlock, toBlock]`, in chain order. */
  escrowLogs(fromBlock: number, toBlock: number): Promise<RawLog[]>;
}

export interface ProviderChainReaderOptions {
  /** The widest range asked of one `eth_getLogs` (hosted RPCs refuse wide ones). */
  logBlockRange: number;
}

/** Hosted RPCs cap `eth_getLogs` ranges between 500 and 10,000 blocks; 2,000 passes most of them. */
export const DEFAULT_LOG_BLOCK_RANGE = 2_000;

export function providerChainReader(
  provider: Provider,
  escrowAddress: string,
  options: Partial<ProviderChainReaderOptions> = {},
): ChainReader {
  const address = getAddress(escrowAddress);
  const logBlockRange = options.logBlockRange ?? DEFAULT_LOG_BLOCK_RANGE;
  if (!Number.isSafeInteger(logBlockRange) || logBlockRange < 1) {
    throw new RangeError(`logBlockRange must be a positive whole number, got ${logBlockRange}`);
  }

  const blockAt = async (tag: number | "latest"): Promise<BlockRef | null> => {
    const block = await provider.getBlock(tag);
    if (!block) return null;
    if (!block.hash) throw new Error(`the node returned block ${block.number} without its hash (pending?)`);
    return { number: block.number, hash: block.hash.toLowerCase() };
  };

  // A range the node refuses (too many results, too wide) is split in halves until it passes;
  // a single block that still fails is a real error.
  const logsIn = async (fromBlock: number, toBlock: number): Promise<RawLog[]> => {
    try {
      const logs = await provider.getLogs({ address, fromBlock, toBlock });
      return logs.filter((log) => !log.removed);
    } catch (error) {
      if (fromBlock === toBlock) throw error;
      const middle = Math.floor((fromBlock + toBlock) / 2);
      return [...(await logsIn(fromBlock, middle)), ...(await logsIn(middle + 1, toBlock))];
    }
  };

  return {
    async chainId() {
      return (await provider.getNetwork()).chainId;
    },
    async latestBlock() {
      const block = await blockAt("latest");
      if (!block) throw new Error("the node returned no latest block");
      return block;
    },
    blockAt,
    async escrowLogs(fromBlock, toBlock) {
      const logs: RawLog[] = [];
      for (let from = fromBlock; from <= toBlock; from += logBlockRange) {
        logs.push(...(await logsIn(from, Math.min(toBlock, from + logBlockRange - 1))));
      }
      return logs.sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
    },
  };
}
