import { getAddress, type Log, type Provider } from "ethers";
import { UsageEscrow__factory } from "../../typechain-types";
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
 * The escrow as receipt verification reads it, through the typed bindings. Read-only: it needs
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
  const escrow = UsageEscrow__factory.connect(address, provider);
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
  escrow: UsageEscrow,
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
  escrow: UsageEscrow,
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

function settledRecordOf(escrow: UsageEscrow, log: Log, wanted: WantedEvent): SettledEventRecord | null {
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
