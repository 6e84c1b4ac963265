import type { Provider } from "ethers";
import { UsageEscrow__factory } from "../../typechain-types";
import type { Address } from "../domain/types";
import type { ChainRepository } from "../persistence/chain/chainRepository";
import type { PayerBalance } from "./payerBalance";

/** The escrow's views, read as of one block. */
export interface EscrowViews {
  balanceOf(payer: Address, blockTag: number): Promise<PayerBalance>;
  settledAmount(payer: Address, provider: Address, blockTag: number): Promise<bigint>;
  earningsOf(payee: Address, blockTag: number): Promise<bigint>;
}

export function escrowViews(provider: Provider, escrowAddress: string): EscrowViews {
  const escrow = UsageEscrow__factory.connect(escrowAddress, provider);
  return {
    async balanceOf(payer, blockTag) {
      const [availableBase, thawingBase, thawEndsAt] = await escrow.balanceOf(payer, { blockTag });
      return { availableBase, thawingBase, thawEndsAt };
    },
    settledAmount: (payer, provider, blockTag) => escrow.settledAmount(payer, provider, { blockTag }),
    earningsOf: (payee, blockTag) => escrow.earningsOf(payee, { blockTag }),
  };
}

export interface MirrorDifference {
  /** e.g. "balanceOf(0x…).available" */
  what: string;
  mirror: bigint;
  chain: bigint;
}

/**
 * Compares what the watcher mirrored with the escrow's own views as of the
 * cursor block, where the two must agree to the base unit: every mirrored
 * payer's balance, every pair's settled amount, every payee's unclaimed
 * earnings, plus any `extraPayers` (expected to read zero when never seen).
 * Returns the differences; empty means the mirror is exact.
 */
export async function compareMirrorWithEscrow(
  repository: ChainRepository,
  views: EscrowViews,
  extraPayers: readonly Address[] = [],
): Promise<MirrorDifference[]> {
  const cursor = await repository.cursor();
  if (!cursor || cursor.blockHash === null) return [];
  const blockTag = cursor.blockNumber;
  const differences: MirrorDifference[] = [];
  const compare = (what: string, mirror: bigint, chain: bigint) => {
    if (mirror !== chain) differences.push({ what, mirror, chain });
  };

  const balances = new Map((await repository.payerBalances()).map((balance) => [balance.payer, balance]));
  const payers = new Set([...balances.keys(), ...extraPayers.map((payer) => payer.toLowerCase())]);
  for (const payer of [...payers].sort()) {
    const mirror = balances.get(payer) ?? { availableBase: 0n, thawingBase: 0n, thawEndsAt: 0n };
    const chain = await views.balanceOf(payer, blockTag);
    compare(`balanceOf(${payer}).available`, mirror.availableBase, chain.availableBase);
    compare(`balanceOf(${payer}).thawing`, mirror.thawingBase, chain.thawingBase);
    compare(`balanceOf(${payer}).thawEndsAt`, mirror.thawEndsAt, chain.thawEndsAt);
  }
  for (const pair of await repository.pairSettlements()) {
    compare(
      `settledAmount(${pair.payer}, ${pair.provider})`,
      pair.settledBase,
      await views.settledAmount(pair.payer, pair.provider, blockTag),
    );
  }
  for (const earnings of await repository.allEarnings()) {
    compare(`earningsOf(${earnings.payee})`, earnings.unclaimedBase, await views.earningsOf(earnings.payee, blockTag));
  }
  return differences;
}
