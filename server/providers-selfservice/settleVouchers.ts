import type { ContractTransactionReceipt } from "ethers";
import type { UsageEscrow } from "../../typechain-types";
import { decodeEscrowLog } from "../chain/escrowEvents";
import { escrowDomain, recoverVoucherSigner } from "../chain/voucher";
import type { SignedVoucherEntry } from "./voucherFile";

/** The escrow's `settle` takes at most this many vouchers at once. */
export const MAX_SETTLE_BATCH = 100;

export type SettleStatus =
  /** Paid in this run; `paid` may be below what was due when the payer's deposit ran short. */
  | "paid"
  /** The escrow has settled the pair up to this voucher already: not sent. */
  | "already_settled"
  /** Sent, but the escrow paid nothing (the payer's deposit is empty). */
  | "not_paid"
  /** Not sent: its signature is not from an authorised signer, which would revert the whole batch. */
  | "bad_signature";

export interface SettleOutcome {
  payer: string;
  provider: string;
  cumulativeAmount: bigint;
  status: SettleStatus;
  /** The pair's settled amount before this run. */
  settledBefore: bigint;
  paid: bigint;
  providerShare: bigint;
  fee: bigint;
  /** The pair's settled amount after this run. */
  settledAfter: bigint;
  txHash: string | null;
  reason?: string;
}

export interface SettleOptions {
  /** The escrow, connected to the wallet that sends (and pays gas for) `settle`. */
  escrow: UsageEscrow;
  chainId: bigint;
  vouchers: readonly SignedVoucherEntry[];
  /** Vouchers per transaction, at most {@link MAX_SETTLE_BATCH}. */
  batchSize?: number;
  /** Progress lines (a transaction sent, mined). */
  log?: (line: string) => void;
}

/**
 * Submits signed vouchers to the escrow, as anyone holding them may (a provider whose gateway is
 * gone): skips every voucher the escrow has already settled (`settledAmount` ≥ its amount) and
 * every one whose signer the escrow does not authorise now (one would revert its whole batch),
 * sends the rest in batches of at most 100, and reads what each was paid from the `Settled`
 * events of the mined transactions. Sending one again is harmless: the escrow pays only the
 * difference, once.
 */
export async function settleVouchers(options: SettleOptions): Promise<SettleOutcome[]> {
  const { escrow, chainId } = options;
  const batchSize = Math.min(options.batchSize ?? MAX_SETTLE_BATCH, MAX_SETTLE_BATCH);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError("the batch size must be 1 to 100");
  const log = options.log ?? (() => undefined);
  const escrowAddress = await escrow.getAddress();
  const domain = escrowDomain(chainId, escrowAddress);
  const signerOk = new Map<string, boolean>();

  const outcomes: SettleOutcome[] = [];
  const toSend: { entry: SignedVoucherEntry; outcome: SettleOutcome }[] = [];
  for (const entry of options.vouchers) {
    const { voucher } = entry;
    const settledBefore = await escrow.settledAmount(voucher.payer, voucher.provider);
    const outcome: SettleOutcome = {
      payer: voucher.payer,
      provider: voucher.provider,
      cumulativeAmount: voucher.cumulativeAmount,
      status: "already_settled",
      settledBefore,
      paid: 0n,
      providerShare: 0n,
      fee: 0n,
      settledAfter: settledBefore,
      txHash: null,
    };
    outcomes.push(outcome);
    if (settledBefore >= voucher.cumulativeAmount) continue;
    const problem = await signatureProblem(entry, domain, escrow, signerOk);
    if (problem) {
      outcome.status = "bad_signature";
      outcome.reason = problem;
      continue;
    }
    toSend.push({ entry, outcome });
  }

  for (let start = 0; start < toSend.length; start += batchSize) {
    const batch = toSend.slice(start, start + batchSize);
    const tx = await escrow.settle(
      batch.map(({ entry }) => entry.voucher),
      batch.map(({ entry }) => entry.signature),
    );
    log(`sent settle(${batch.length} voucher${batch.length === 1 ? "" : "s"}) in tx ${tx.hash}`);
    const receipt = (await tx.wait()) as ContractTransactionReceipt;
    log(`mined in block ${receipt.blockNumber} (gas used ${receipt.gasUsed})`);
    applySettledEvents(receipt, escrowAddress, batch);
  }
  return outcomes;
}

/** Matches the receipt's `Settled` events to the batch, in order, by payer, provider and usage root. */
function applySettledEvents(
  receipt: ContractTransactionReceipt,
  escrowAddress: string,
  batch: readonly { entry: SignedVoucherEntry; outcome: SettleOutcome }[],
): void {
  const events = receipt.logs
    .filter((log) => log.address.toLowerCase() === escrowAddress.toLowerCase())
    .map((log) => decodeEscrowLog({ ...log, transactionHash: log.transactionHash, index: log.index }))
    .flatMap((event) => (event?.name === "Settled" ? [event] : []));
  const used = new Set<number>();
  for (const { entry, outcome } of batch) {
    outcome.txHash = receipt.hash;
    const at = events.findIndex(
      (event, i) =>
        !used.has(i) &&
        event.args.payer === entry.voucher.payer &&
        event.args.provider === entry.voucher.provider &&
        event.args.usageRoot === entry.voucher.usageRoot,
    );
    if (at === -1) {
      outcome.status = "not_paid";
      outcome.reason = "the escrow paid nothing: the payer's deposit is empty";
      continue;
    }
    used.add(at);
    const { args } = events[at];
    outcome.status = "paid";
    outcome.paid = args.paid;
    outcome.providerShare = args.providerShare;
    outcome.fee = args.fee;
    outcome.settledAfter = args.cumulativeAmount;
    if (args.cumulativeAmount < entry.voucher.cumulativeAmount) {
      outcome.reason = "partial: the payer's deposit did not cover the whole voucher";
    }
  }
}

async function signatureProblem(
  entry: SignedVoucherEntry,
  domain: ReturnType<typeof escrowDomain>,
  escrow: UsageEscrow,
  signerOk: Map<string, boolean>,
): Promise<string | null> {
  let recovered: string;
  try {
    recovered = recoverVoucherSigner(domain, entry.voucher, entry.signature);
  } catch (error) {
    return (error as Error).message;
  }
  if (recovered !== entry.signer.toLowerCase()) {
    return `the signature recovers to ${recovered} under this escrow's domain, not to the stated signer ${entry.signer} (another escrow or chain?)`;
  }
  if (!signerOk.has(recovered)) signerOk.set(recovered, await escrow.isSigner(recovered));
  if (!signerOk.get(recovered)) return `${recovered} is not an authorised settlement signer of the escrow (revoked?)`;
  return null;
}
