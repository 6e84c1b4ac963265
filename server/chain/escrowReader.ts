import { Contract, getAddress, type Log, type Provider } from "ethers";
import type { UsageEscrow } from "../../typechain-types";
import type { SettledEvent } from "../../typechain-types/contracts/UsageEscrow";
import type { Address } from "../domain/types";
import type { EscrowChain, SettledEventRecord } from "../settlement/escrowChain";

export interface EscrowReaderOptions {
  /** Where a scan for `Settled` events starts: the escrow's deployment block (0 if unknown). */
  fromBlock?: number;
  /** The widest block range asked of one `eth_getLogs`; hosted RPCs refuse wide ones. */
  maxBlockRange?: number;
}

const DEFAULT_MAX_BLOCK_RANGE = 10_000;

/**
 * The part of the escrow's ABI that receipt verification reads, and nothing else. This file is
 * shared by the server and the web app (web/src/receiptCheck.ts), so it connects with a plain
 * ethers `Contract` over these fragments, not with `UsageEscrow__factory`, which would put the
 * contract's bytecode and whole ABI in the browser bundle; the TypeChain types are imported as
 * types only (erased at build time). test/server/chain/escrowReaderAbi.test.ts checks each
 * fragment against the compiled contract's ABI.
 */
export const ESCROW_READER_ABI = [
  "function isSigner(address signer) view returns (bool)",
  "function settledAmount(address payer, address provider) view returns (uint128)",
  "event Settled(address indexed payer, address indexed provider, uint128 cumulativeAmount, uint256 paid, uint256 providerShare, uint256 fee, bytes32 usageRoot)",
] as const;

/** What {@link ESCROW_READER_ABI} gives, typed by TypeChain: using anything else fails to compile. */
type EscrowReadContract = Pick<UsageEscrow, "isSigner" | "settledAmount" | "queryFilter" | "getAddress" | "interface"> & {
  filters: Pick<UsageEscrow["filters"], "Settled">;
};

/**
 * The escrow as receipt verification reads it, through an ABI-only contract typed by TypeChain. Read-only: it needs
 * a Provider, never a key. Fails at once if there is no contract at `escrowAddress`, rather than
 * later with an undecodable call result.
 */
export async function connectEscrowReader(
  provider: Provider,
  escrowAddress: string,
  options: EscrowReaderOptions = {},
): Promise<EscrowChain> {
  const address = getAddress(escrowAddress);
  const [{ chainId }, code] = await Promise.all([provider.getNetwork(), provider.getCode(address)]);
  if (code === "0x") throw new Error(`no contract at ${address} on chain ${chainId}`);
  const escrow = new Contract(address, ESCROW_READER_ABI, provider) as unknown as EscrowReadContract;
  const fromBlock = options.fromBlock ?? 0;
  const maxBlockRange = options.maxBlockRange ?? DEFAULT_MAX_BLOCK_RANGE;

  return {
    escrow: { address: address.toLowerCase(), chainId },
    isSigner: (signer: Address) => escrow.isSigner(signer),
    settledAmount: (payer: Address, payee: Address) => escrow.settledAmount(payer, payee),
    async findSettledEvent(payer, payee, usageRoot, hint) {
      const wanted = { payer, provider: payee, usageRoot };
      if (hint) {
        const found = await settledEventInTransaction(provider, escrow, hint.txHash, wanted);
        if (found) return found;
      }
      return latestSettledEvent(provider, escrow, wanted, fromBlock, maxBlockRange);
    },
  };
}

interface WantedEvent {
  payer: Address;
  provider: Address;
  usageRoot: string;
}

/** The wanted `Settled` event among the logs of one (successful) transaction: one RPC call, no scan. */
async function settledEventInTransaction(
  provider: Provider,
  escrow: EscrowReadContract,
  txHash: string,
  wanted: WantedEvent,
): Promise<SettledEventRecord | null> {
  const receipt = await provider.getTransactionReceipt(txHash);
  if (!receipt || receipt.status !== 1) return null;
  const escrowAddress = (await escrow.getAddress()).toLowerCase();
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== escrowAddress) continue;
    const record = settledRecordOf(escrow, log, wanted);
    if (record) return record;
  }
  return null;
}

/**
 * The newest wanted `Settled` event, scanning back from the chain head in windows of
 * `maxBlockRange` blocks (the pair is an indexed topic; the root is filtered here).
 */
async function latestSettledEvent(
  provider: Provider,
  escrow: EscrowReadContract,
  wanted: WantedEvent,
  fromBlock: number,
  maxBlockRange: number,
): Promise<SettledEventRecord | null> {
  const filter = escrow.filters.Settled(wanted.payer, wanted.provider);
  for (let to = await provider.getBlockNumber(); to >= fromBlock; to -= maxBlockRange) {
    const from = Math.max(fromBlock, to - maxBlockRange + 1);
    const logs = await escrow.queryFilter(filter, from, to);
    for (const log of logs.reverse()) {
      const record = settledRecordOf(escrow, log, wanted);
      if (record) return record;
    }
  }
  return null;
}

function settledRecordOf(escrow: EscrowReadContract, log: Log, wanted: WantedEvent): SettledEventRecord | null {
  const parsed = escrow.interface.parseLog(log);
  if (!parsed || parsed.name !== "Settled") return null;
  const { payer, provider, cumulativeAmount, paid, usageRoot } = parsed.args as unknown as SettledEvent.OutputObject;
  const matches =
    payer.toLowerCase() === wanted.payer.toLowerCase() &&
    provider.toLowerCase() === wanted.provider.toLowerCase() &&
    usageRoot.toLowerCase() === wanted.usageRoot.toLowerCase();
  if (!matches) return null;
  return { txHash: log.transactionHash, blockNumber: log.blockNumber, cumulativeAmount, paid };
}
