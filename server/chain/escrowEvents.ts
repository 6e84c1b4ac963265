import type { Interface } from "ethers";
import { z } from "zod";
import { UsageEscrow__factory } from "../../typechain-types";
import type { Address } from "../domain/types";

/**
 * The escrow's events as the chain watcher records them. One zod schema per
 * event describes its arguments in their stored JSON form (addresses
 * lower-cased, integers as decimal strings, since JSON has no bigint) and turns
 * them into typed values; a log decoded from the chain and a row read back from
 * `chain_events` go through the same schema, so both paths yield the same event.
 */

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be an address")
  .transform((value): Address => value.toLowerCase());
const uint = z
  .string()
  .regex(/^\d+$/, "must be a decimal unsigned integer")
  .transform((value) => BigInt(value));
const bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "must be 32 bytes of hex")
  .transform((value) => value.toLowerCase());

export const ESCROW_EVENT_SCHEMAS = {
  Deposited: z.object({ payer: address, from: address, amount: uint }),
  WithdrawalRequested: z.object({ payer: address, thawing: uint, thawEndsAt: uint }),
  WithdrawalCancelled: z.object({ payer: address, amount: uint }),
  Withdrawn: z.object({ payer: address, to: address, amount: uint }),
  Settled: z.object({
    payer: address,
    provider: address,
    cumulativeAmount: uint,
    paid: uint,
    providerShare: uint,
    fee: uint,
    usageRoot: bytes32,
  }),
  Claimed: z.object({ payee: address, to: address, amount: uint }),
  SignerAuthorized: z.object({ signer: address }),
  SignerRevoked: z.object({ signer: address }),
  TreasuryChanged: z.object({ previousTreasury: address, newTreasury: address }),
  OwnershipTransferStarted: z.object({ previousOwner: address, newOwner: address }),
  OwnershipTransferred: z.object({ previousOwner: address, newOwner: address }),
} as const;

export type EscrowEventName = keyof typeof ESCROW_EVENT_SCHEMAS;
export type EscrowEventArgs<Name extends EscrowEventName = EscrowEventName> = z.infer<
  (typeof ESCROW_EVENT_SCHEMAS)[Name]
>;

/** Where a log sits on the chain; `(txHash, logIndex)` identifies it. */
export interface LogPosition {
  blockNumber: number;
  blockHash: string;
  txHash: string;
  /** The log's index in its block. */
  logIndex: number;
}

/** A decoded escrow event; narrowing on `name` narrows `args`. */
export type EscrowEvent = {
  [Name in EscrowEventName]: LogPosition & { name: Name; args: EscrowEventArgs<Name> };
}[EscrowEventName];

/** The stored form of an event's arguments: strings only. */
export type EventArgsJson = Record<string, string>;

/** The parts of an ethers `Log` that decoding reads. */
export interface RawLog {
  blockNumber: number;
  blockHash: string;
  transactionHash: string;
  index: number;
  topics: readonly string[];
  data: string;
  removed?: boolean;
}

let escrowInterface: Interface | undefined;

function isEventName(name: string): name is EscrowEventName {
  return Object.prototype.hasOwnProperty.call(ESCROW_EVENT_SCHEMAS, name);
}

/**
 * The escrow event `log` carries, or null for a log the escrow's ABI does not
 * know (or an event the watcher does not follow, such as EIP712DomainChanged).
 */
export function decodeEscrowLog(log: RawLog): EscrowEvent | null {
  escrowInterface ??= UsageEscrow__factory.createInterface() as unknown as Interface;
  const parsed = escrowInterface.parseLog({ topics: [...log.topics], data: log.data });
  if (!parsed || !isEventName(parsed.name)) return null;
  const json: EventArgsJson = {};
  parsed.fragment.inputs.forEach((input, i) => {
    json[input.name] = String(parsed.args[i]);
  });
  return eventFromJson(parsed.name, json, {
    blockNumber: log.blockNumber,
    blockHash: log.blockHash.toLowerCase(),
    txHash: log.transactionHash.toLowerCase(),
    logIndex: log.index,
  });
}

/** Rebuilds a stored event; throws if `args` do not fit the event's schema. */
export function eventFromJson(name: string, args: unknown, position: LogPosition): EscrowEvent {
  if (!isEventName(name)) throw new TypeError(`not an escrow event: ${JSON.stringify(name)}`);
  const parsed = ESCROW_EVENT_SCHEMAS[name].parse(args);
  return { ...position, name, args: parsed } as EscrowEvent;
}

/** The arguments as stored in `chain_events.args`: bigints as decimal strings. */
export function eventArgsToJson(event: EscrowEvent): EventArgsJson {
  return Object.fromEntries(Object.entries(event.args).map(([key, value]) => [key, String(value)]));
}

/** The payer whose escrow balance `event` changes, or null. */
export function payerOf(event: EscrowEvent): Address | null {
  switch (event.name) {
    case "Deposited":
    case "WithdrawalRequested":
    case "WithdrawalCancelled":
    case "Withdrawn":
    case "Settled":
      return event.args.payer;
    default:
      return null;
  }
}

/** Chain order: by block, then by position in the block. */
export function compareLogPositions(a: LogPosition, b: LogPosition): number {
  return a.blockNumber - b.blockNumber || a.logIndex - b.logIndex;
}
