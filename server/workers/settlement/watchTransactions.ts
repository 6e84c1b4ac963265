import { Transaction, type TransactionReceipt } from "ethers";
import type { MinedAt, VoucherSettlement } from "../../persistence/vouchers/settlementTxRepository";
import type { SettlementTxRecord } from "../../persistence/vouchers/voucherRows";
import { bumpFees } from "./feeBump";
import { matchSettledLogs, type BatchedVoucher } from "./settledLogs";
import type { SettlementContext, TickReport } from "./settlementContext";

/**
 * Steps (c) and (e): follows every open `settle` transaction of the submitter, one nonce at a
 * time (a nonce's "family" is the transaction and its fee bumps; at most one of them is mined):
 *
 * - mined: parse its `Settled` events into what each voucher was paid (a voucher without an event
 *   was paid nothing: its pair was settled past it already, or the deposit was empty; the pair's
 *   settled amount at that block says which), vouchers become confirmed; reverted: they go back
 *   to pending.
 * - mined earlier: still in the canonical chain with the same block hash? Then, with enough
 *   confirmations, final. Gone (a reorg): what it paid is forgotten and its vouchers are submitted
 *   again; in another block: recorded again from the new receipt.
 * - not mined: its nonce used by someone else → dropped, vouchers pending. Older than the
 *   timeout → replaced with the same nonce and higher fees. Unknown to the node (a crash before
 *   broadcasting, a node that lost its pool) → broadcast again from the recorded raw bytes.
 */
export async function watchTransactions(context: SettlementContext, report: TickReport): Promise<void> {
  const { transactions, chain } = context;
  const open = await transactions.open(chain.submitterAddress);
  if (open.length === 0) return;
  const [head, minedNonce] = await Promise.all([chain.blockNumber(), chain.nonce("latest")]);
  const families = new Map<number, SettlementTxRecord[]>();
  for (const tx of open) families.set(tx.nonce, [...(families.get(tx.nonce) ?? []), tx]);
  for (const [nonce, members] of [...families].sort(([a], [b]) => a - b)) {
    try {
      await watchFamily(context, report, nonce, members, head, minedNonce);
    } catch (error) {
      report.warnings.push(`nonce ${nonce}: ${chain.describeError(error)}`);
    }
  }
}

async function watchFamily(
  context: SettlementContext,
  report: TickReport,
  nonce: number,
  members: SettlementTxRecord[],
  head: number,
  minedNonce: number,
): Promise<void> {
  const { chain, transactions, settings, clock } = context;
  const mined = members.find((tx) => tx.state === "mined");
  if (mined) {
    const receipt = await chain.receipt(mined.hash);
    if (receipt && receipt.blockHash.toLowerCase() === mined.blockHash) {
      if (confirmationsOf(head, receipt.blockNumber) >= settings.confirmations) {
        await transactions.recordFinal(mined);
        report.transactionsFinal += 1;
      }
      return;
    }
    if (receipt) {
      context.logger.warn(
        { tx: mined.hash, was: mined.blockHash, now: receipt.blockHash },
        "settle re-mined in another block",
      );
      await recordOutcome(context, report, mined, receipt, head);
      return;
    }
    context.logger.warn({ tx: mined.hash, block: mined.blockNumber }, "settle no longer in the chain (reorg)");
    await transactions.recordReorged(mined);
    report.transactionsReorged += 1;
    mined.state = "sent";
    mined.sentAt = clock();
  }

  const candidates = members.filter((tx) => tx.state === "sent" || tx.state === "replaced").sort((a, b) => b.id - a.id);
  for (const candidate of candidates) {
    const receipt = await chain.receipt(candidate.hash);
    if (receipt) {
      await recordOutcome(context, report, candidate, receipt, head);
      return;
    }
  }
  const newest = candidates[0];
  if (!newest) return;

  if (minedNonce > nonce) {
    // The nonce is used, by none of the open ones: perhaps by one given up on earlier.
    for (const other of await transactions.family(newest.submitter, nonce)) {
      if (candidates.some((candidate) => candidate.id === other.id)) continue;
      const receipt = await chain.receipt(other.hash);
      if (receipt) {
        await recordOutcome(context, report, other, receipt, head);
        return;
      }
    }
    await transactions.recordDropped(newest, `nonce ${nonce} was used by a transaction the worker did not send`);
    report.transactionsDropped += 1;
    return;
  }

  if (clock().getTime() - newest.sentAt.getTime() >= settings.txTimeoutMs) {
    await bump(context, report, newest);
    return;
  }
  if (!(await chain.isKnown(newest.hash))) {
    try {
      await chain.broadcast(newest.raw);
      report.transactionsRebroadcast += 1;
    } catch (error) {
      report.warnings.push(`rebroadcast of ${newest.hash} failed: ${chain.describeError(error)}`);
    }
  }
}

/** Replaces a stuck transaction: same nonce and calldata, fees raised by at least `feeBumpBps`. */
async function bump(context: SettlementContext, report: TickReport, stuck: SettlementTxRecord): Promise<void> {
  const { chain, transactions, settings, logger } = context;
  const fees = bumpFees(stuck, await chain.suggestedFees(), settings.feeBumpBps, settings.maxFeePerGasWei);
  if (!fees.ok) {
    report.warnings.push(`settle ${stuck.hash} is stuck and cannot be bumped: ${fees.reason}`);
    if (!(await chain.isKnown(stuck.hash))) await chain.broadcast(stuck.raw).catch(() => undefined);
    return;
  }
  const { data } = Transaction.from(stuck.raw);
  const signed = await chain.signTransaction({ nonce: stuck.nonce, data, gasLimit: stuck.gasLimit, fees: fees.fees });
  const replacement = await transactions.recordReplacement(stuck, signed);
  report.transactionsBumped += 1;
  logger.warn(
    {
      stuck: stuck.hash,
      replacement: replacement.hash,
      nonce: stuck.nonce,
      maxFeePerGas: replacement.maxFeePerGas?.toString(),
      maxPriorityFeePerGas: replacement.maxPriorityFeePerGas?.toString(),
      gasPrice: replacement.gasPrice?.toString(),
    },
    "settle stuck: replaced with higher fees",
  );
  try {
    await chain.broadcast(replacement.raw);
  } catch (error) {
    report.warnings.push(`replacement ${replacement.hash} not accepted yet: ${chain.describeError(error)}`);
  }
}

/** Records what a mined transaction did; final at once when it already has the confirmations. */
async function recordOutcome(
  context: SettlementContext,
  report: TickReport,
  tx: SettlementTxRecord,
  receipt: TransactionReceipt,
  head: number,
): Promise<void> {
  const { chain, transactions, vouchers, settings } = context;
  const mined: MinedAt = {
    blockNumber: receipt.blockNumber,
    blockHash: receipt.blockHash.toLowerCase(),
    gasUsed: receipt.gasUsed,
    effectiveGasPrice: receipt.gasPrice ?? null,
  };
  if (receipt.status !== 1) {
    await transactions.recordReverted(tx, mined, "the settle transaction reverted");
    report.transactionsReverted += 1;
    return;
  }
  const byId = new Map((await vouchers.byIds(tx.voucherIds)).map((voucher) => [voucher.id, voucher]));
  const batch: BatchedVoucher[] = tx.voucherIds.map((id) => {
    const voucher = byId.get(id);
    if (!voucher) throw new Error(`transaction ${tx.hash} names voucher ${id}, which does not exist`);
    return voucher;
  });
  const outcome = matchSettledLogs(batch, chain.settledLogs(receipt));
  const settlements: VoucherSettlement[] = outcome.paid.map((paid) => ({ ...paid }));
  const settledAt = new Map<string, bigint>();
  for (const voucher of outcome.unpaid) {
    const pair = `${voucher.payer}:${voucher.provider}`;
    let settled = settledAt.get(pair);
    if (settled === undefined) {
      settled = await chain.settledAmountAt(voucher.payer, voucher.provider, receipt.blockNumber);
      settledAt.set(pair, settled);
    }
    settlements.push({ voucherId: voucher.id, logIndex: null, paidBase: 0n, settledAfterBase: settled });
  }
  await transactions.recordMined(tx, mined, settlements);
  report.transactionsMined += 1;
  if (confirmationsOf(head, receipt.blockNumber) >= settings.confirmations) {
    await transactions.recordFinal({ ...tx, state: "mined" });
    report.transactionsFinal += 1;
  }
}

/** Blocks on top of `blockNumber`, itself included. */
function confirmationsOf(head: number, blockNumber: number): number {
  return head - blockNumber + 1;
}
