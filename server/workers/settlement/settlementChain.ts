import {
  getAddress,
  Transaction,
  type Provider,
  type Signer,
  type TransactionReceipt,
  type TypedDataDomain,
} from "ethers";
import { UsageEscrow__factory, type UsageEscrow } from "../../../typechain-types";
import { decodeEscrowLog } from "../../chain/escrowEvents";
import { escrowDomain, signVoucher, type Voucher } from "../../chain/voucher";
import type { Address } from "../../domain/types";
import type { SettlementTxFees } from "../../persistence/vouchers/voucherRows";
import type { SignedSettlementTx } from "../../persistence/vouchers/settlementTxRepository";
import type { SettledLog } from "./settledLogs";

export interface SettlementChainOptions {
  provider: Provider;
  escrowAddress: string;
  /** Signs vouchers (EIP-712, the escrow's domain). Needs no provider. */
  signer: Signer;
  /** Signs and pays for `settle` transactions; they are broadcast through `provider`. */
  submitter: Signer;
}

/** A voucher with its signature, as `settle` takes it. */
export interface SignedVoucher {
  voucher: Voucher;
  signature: string;
}

/**
 * The part of the chain the settlement worker uses, over ethers and the typed bindings. It holds
 * the keys as ethers Signers only: nothing here prints or returns a key.
 */
export interface SettlementChain {
  readonly chainId: bigint;
  /** The escrow, lower-cased. */
  readonly escrowAddress: Address;
  readonly domain: TypedDataDomain;
  readonly signerAddress: Address;
  readonly submitterAddress: Address;
  readonly provider: Provider;
  readonly escrow: UsageEscrow;
  thawingPeriod(): Promise<bigint>;
  isSigner(address: Address): Promise<boolean>;
  signVoucher(voucher: Voucher): Promise<string>;
  /** Calldata of `settle(vouchers, signatures)`. */
  settleCalldata(batch: readonly SignedVoucher[]): string;
  /** Gas `settle` would use now, sent by the submitter; throws with the escrow's error if it would revert. */
  estimateGas(data: string): Promise<bigint>;
  suggestedFees(): Promise<SettlementTxFees>;
  /** The submitter's transaction count, counting the node's pending pool or only mined blocks. */
  nonce(blockTag: "pending" | "latest"): Promise<number>;
  signTransaction(request: {
    nonce: number;
    data: string;
    gasLimit: bigint;
    fees: SettlementTxFees;
  }): Promise<SignedSettlementTx>;
  broadcast(raw: string): Promise<void>;
  receipt(hash: string): Promise<TransactionReceipt | null>;
  /** Whether the node knows the transaction (in its pool or mined). */
  isKnown(hash: string): Promise<boolean>;
  blockNumber(): Promise<number>;
  settledAmountAt(payer: Address, provider: Address, blockNumber: number): Promise<bigint>;
  balanceOf(payer: Address): Promise<{ availableBase: bigint; thawingBase: bigint }>;
  /** The escrow's `Settled` events among a receipt's logs. */
  settledLogs(receipt: TransactionReceipt): SettledLog[];
  /** A revert's custom error in words (`UsageEscrowInvalidSigner(0x…)`), or the error's message. */
  describeError(error: unknown): string;
}

export async function connectSettlementChain(options: SettlementChainOptions): Promise<SettlementChain> {
  const { provider, signer, submitter } = options;
  const escrowAddress = getAddress(options.escrowAddress);
  const [{ chainId }, code, signerAddress, submitterAddress] = await Promise.all([
    provider.getNetwork(),
    provider.getCode(escrowAddress),
    signer.getAddress(),
    submitter.getAddress(),
  ]);
  if (code === "0x") throw new Error(`no contract at ${escrowAddress} on chain ${chainId}`);
  const escrow = UsageEscrow__factory.connect(escrowAddress, provider);
  const domain = escrowDomain(chainId, escrowAddress);
  const escrowLower = escrowAddress.toLowerCase();
  const submitterLower = submitterAddress.toLowerCase();

  const describeError = (error: unknown): string => {
    const data = revertData(error);
    if (data) {
      try {
        const parsed = escrow.interface.parseError(data);
        if (parsed) return `${parsed.name}(${parsed.args.map(String).join(", ")})`;
      } catch {
        // not one of the escrow's errors: fall through to the message
      }
    }
    const message = (error as { shortMessage?: string; message?: string })?.shortMessage ?? (error as Error)?.message;
    return message ?? String(error);
  };

  return {
    chainId,
    escrowAddress: escrowLower,
    domain,
    signerAddress: signerAddress.toLowerCase(),
    submitterAddress: submitterLower,
    provider,
    escrow,
    thawingPeriod: () => escrow.thawingPeriod(),
    isSigner: (address) => escrow.isSigner(address),
    signVoucher: (voucher) => signVoucher(signer, domain, voucher),
    settleCalldata: (batch) =>
      escrow.interface.encodeFunctionData("settle", [
        batch.map(({ voucher }) => ({ ...voucher })),
        batch.map(({ signature }) => signature),
      ]),
    estimateGas: (data) => provider.estimateGas({ from: submitterAddress, to: escrowAddress, data }),
    async suggestedFees() {
      const fee = await provider.getFeeData();
      if (fee.maxFeePerGas !== null && fee.maxPriorityFeePerGas !== null) {
        return { maxFeePerGas: fee.maxFeePerGas, maxPriorityFeePerGas: fee.maxPriorityFeePerGas, gasPrice: null };
      }
      return { maxFeePerGas: null, maxPriorityFeePerGas: null, gasPrice: fee.gasPrice };
    },
    nonce: (blockTag) => provider.getTransactionCount(submitterAddress, blockTag),
    async signTransaction({ nonce, data, gasLimit, fees }) {
      const eip1559 = fees.maxFeePerGas !== null && fees.maxPriorityFeePerGas !== null;
      const raw = await submitter.signTransaction({
        type: eip1559 ? 2 : 0,
        chainId,
        nonce,
        from: submitterAddress,
        to: escrowAddress,
        data,
        value: 0n,
        gasLimit,
        ...(eip1559
          ? { maxFeePerGas: fees.maxFeePerGas, maxPriorityFeePerGas: fees.maxPriorityFeePerGas }
          : { gasPrice: fees.gasPrice }),
      });
      const hash = Transaction.from(raw).hash;
      if (!hash) throw new Error("the submitter returned an unsigned transaction");
      return { hash: hash.toLowerCase(), raw, nonce, gasLimit, ...fees };
    },
    async broadcast(raw) {
      await provider.broadcastTransaction(raw);
    },
    receipt: (hash) => provider.getTransactionReceipt(hash),
    isKnown: async (hash) => (await provider.getTransaction(hash)) !== null,
    blockNumber: () => provider.getBlockNumber(),
    settledAmountAt: (payer, payee, blockNumber) => escrow.settledAmount(payer, payee, { blockTag: blockNumber }),
    async balanceOf(payer) {
      const [available, thawing] = await escrow.balanceOf(payer);
      return { availableBase: available, thawingBase: thawing };
    },
    settledLogs(receipt) {
      const logs: SettledLog[] = [];
      for (const log of receipt.logs) {
        if (log.address.toLowerCase() !== escrowLower) continue;
        const event = decodeEscrowLog(log);
        if (event?.name !== "Settled") continue;
        logs.push({
          logIndex: event.logIndex,
          payer: event.args.payer,
          provider: event.args.provider,
          cumulativeAmount: event.args.cumulativeAmount,
          paid: event.args.paid,
          usageRoot: event.args.usageRoot,
        });
      }
      return logs;
    },
    describeError,
  };
}

/** The revert data inside an ethers error, wherever the provider put it. */
function revertData(error: unknown): string | null {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === "object"; depth++) {
    const candidate = (current as { data?: unknown }).data;
    if (typeof candidate === "string" && /^0x[0-9a-fA-F]{8,}$/.test(candidate)) return candidate;
    if (candidate && typeof candidate === "object" && typeof (candidate as { data?: unknown }).data === "string") {
      return (candidate as { data: string }).data;
    }
    current =
      (current as { error?: unknown; info?: unknown }).error ?? (current as { info?: { error?: unknown } }).info?.error;
  }
  return null;
}
