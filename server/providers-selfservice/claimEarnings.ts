import type { ContractTransactionReceipt } from "ethers";
import type { UsageEscrow } from "../../typechain-types";
import { decodeEscrowLog } from "../chain/escrowEvents";

export interface ClaimOutcome {
  payee: string;
  to: string;
  /** What was claimed (0: nothing was owed, and no transaction was sent). */
  amount: bigint;
  txHash: string | null;
  blockNumber: number | null;
}

/**
 * Claims the sending wallet's earnings on the escrow (a provider's 90% shares, or the treasury's
 * fees) to `to` (default: the wallet itself). Sends nothing when there is nothing to claim: the
 * escrow would revert with `UsageEscrowZeroAmount`.
 */
export async function claimEarnings(escrow: UsageEscrow, payee: string, to?: string): Promise<ClaimOutcome> {
  const recipient = (to ?? payee).toLowerCase();
  const owed = await escrow.earningsOf(payee);
  if (owed === 0n) return { payee: payee.toLowerCase(), to: recipient, amount: 0n, txHash: null, blockNumber: null };
  const tx = await escrow.claim(recipient);
  const receipt = (await tx.wait()) as ContractTransactionReceipt;
  const escrowAddress = (await escrow.getAddress()).toLowerCase();
  let amount = 0n;
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== escrowAddress) continue;
    const event = decodeEscrowLog(log);
    if (event?.name === "Claimed") amount += event.args.amount;
  }
  return { payee: payee.toLowerCase(), to: recipient, amount, txHash: receipt.hash, blockNumber: receipt.blockNumber };
}
