import type { VoucherRecord } from "../../persistence/vouchers/voucherRows";
import { initialFees } from "./feeBump";
import type { SettlementContext, TickReport } from "./settlementContext";
import type { SignedVoucher } from "./settlementChain";

/**
 * Step (b): sends the pending vouchers to the escrow in batches of at most `batchSize`, in the
 * order they must be paid (by pair, lowest amount first; batches go out in nonce order, so a
 * pair's vouchers reach the chain in order across batches too).
 *
 * Each batch: estimate gas (a batch that would revert is not sent; its reason is noted on its
 * vouchers), take the fees the chain suggests, then — in one database transaction — take the
 * submitter's next nonce, sign, record the transaction with its raw bytes and mark the vouchers
 * submitted; only then broadcast. A crash after recording is recovered by the watch step, which
 * broadcasts a recorded transaction the node does not know.
 */
export async function submitPendingVouchers(context: SettlementContext, report: TickReport): Promise<void> {
  const { vouchers, settings } = context;
  const pending = await vouchers.inStates(["pending"], settings.batchSize * settings.maxBatchesPerTick);
  for (let start = 0; start < pending.length; start += settings.batchSize) {
    const { batch, gasEstimate } = await sendable(context, pending.slice(start, start + settings.batchSize), report);
    if (batch.length === 0) continue;
    if (!(await submitBatch(context, batch, gasEstimate, report))) return;
  }
}

/**
 * The batch if `settle` would succeed with it. Otherwise each voucher is tried alone: one that
 * would revert is left pending with the reason noted, and so are the later vouchers of its pair
 * (paying them first would leave its receipts without a `Settled` event); the rest go on.
 */
async function sendable(
  context: SettlementContext,
  batch: VoucherRecord[],
  report: TickReport,
): Promise<{ batch: VoucherRecord[]; gasEstimate: bigint | null }> {
  const { vouchers, logger } = context;
  const whole = await estimate(context, batch);
  if (whole.ok) return { batch, gasEstimate: whole.gas };
  const blockedPairs = new Set<string>();
  const kept: VoucherRecord[] = [];
  for (const voucher of batch) {
    const pair = `${voucher.payer}:${voucher.provider}`;
    const alone = blockedPairs.has(pair)
      ? ({ ok: false, reason: "an earlier voucher of its pair cannot be settled" } as const)
      : await estimate(context, [voucher]);
    if (alone.ok) {
      kept.push(voucher);
      continue;
    }
    blockedPairs.add(pair);
    await vouchers.noteError([voucher.id], `settle would revert: ${alone.reason}`);
    report.warnings.push(`voucher ${voucher.id} not sent: ${alone.reason}`);
    logger.warn(
      { voucher: voucher.id, signer: voucher.signer, reason: alone.reason },
      "voucher not sent: settle would revert",
    );
  }
  return { batch: kept, gasEstimate: null };
}

type Estimate = { ok: true; gas: bigint } | { ok: false; reason: string };

async function estimate(context: SettlementContext, batch: VoucherRecord[]): Promise<Estimate> {
  try {
    return { ok: true, gas: await context.chain.estimateGas(context.chain.settleCalldata(batch.map(signedVoucherOf))) };
  } catch (error) {
    return { ok: false, reason: context.chain.describeError(error) };
  }
}

async function submitBatch(
  context: SettlementContext,
  batch: VoucherRecord[],
  knownGasEstimate: bigint | null,
  report: TickReport,
): Promise<boolean> {
  const { chain, settings, transactions, logger } = context;
  const data = chain.settleCalldata(batch.map(signedVoucherOf));
  const gasEstimate = knownGasEstimate ?? (await chain.estimateGas(data));
  const gasLimit = (gasEstimate * BigInt(10_000 + settings.gasLimitMarginBps)) / 10_000n;
  const fees = initialFees(await chain.suggestedFees(), settings.maxFeePerGasWei);
  const chainPendingNonce = await chain.nonce("pending");
  const tx = await transactions.recordSubmission(
    chain.submitterAddress,
    chainPendingNonce,
    batch.map((voucher) => voucher.id),
    (nonce) => chain.signTransaction({ nonce, data, gasLimit, fees }),
  );
  if (!tx) {
    report.warnings.push("a batch's vouchers were no longer pending; skipped");
    return false;
  }
  report.transactionsSent += 1;
  report.vouchersSubmitted += batch.length;
  try {
    await chain.broadcast(tx.raw);
    logger.info({ tx: tx.hash, nonce: tx.nonce, vouchers: batch.length, gasLimit: gasLimit.toString() }, "settle sent");
  } catch (error) {
    // Recorded, so not lost: the watch step broadcasts it again, replaces it, or drops it.
    const reason = chain.describeError(error);
    report.warnings.push(`settle ${tx.hash} (nonce ${tx.nonce}) not accepted by the node yet: ${reason}`);
    logger.warn({ tx: tx.hash, nonce: tx.nonce, reason }, "settle broadcast failed; the watch step retries");
    return false; // later nonces would only queue behind it
  }
  return true;
}

export function signedVoucherOf(voucher: VoucherRecord): SignedVoucher {
  return {
    voucher: {
      payer: voucher.payer,
      provider: voucher.provider,
      cumulativeAmount: voucher.cumulativeAmountBase,
      usageRoot: voucher.usageRoot,
    },
    signature: voucher.signature,
  };
}
