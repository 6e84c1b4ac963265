import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { getAddress, isAddress, isHexString } from "ethers";

/** What `deployments/<chainId>.json` holds: where the escrow lives on one chain and how it is configured. */
export interface DeploymentRecord {
  chainId: number;
  escrow: { address: string; blockNumber: number; txHash: string };
  /** `deployedHere` is true when this script deployed MockUSDC (local chains only). */
  usdc: { address: string; deployedHere: boolean; txHash?: string };
  /** The escrow's current owner, as read from the chain when the record was written. */
  owner: string;
  /** Set while an Ownable2Step transfer waits for the new owner's `acceptOwnership()`. */
  pendingOwner?: string;
  treasury: string;
  feeBps: number;
  thawingPeriodSeconds: number;
  /** Settlement signers this script knows of that are authorised on the escrow. */
  signers: string[];
  /** ISO-8601 time of the escrow's deployment. */
  deployedAt: string;
}

export function recordPath(deploymentsDir: string, chainId: bigint): string {
  return join(deploymentsDir, `${chainId}.json`);
}

/** Reads and checks the record at `path`; undefined if there is none. Throws on a malformed file. */
export function readRecord(path: string): DeploymentRecord | undefined {
  if (!existsSync(path)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new Error(`${path} is not valid JSON (${(error as Error).message}); fix or delete it`);
  }
  return parseRecord(json, path);
}

/** Writes `record` atomically (temp file, then rename) so an interrupted run never leaves half a file. */
export function writeRecord(path: string, record: DeploymentRecord): void {
  mkdirSync(join(path, ".."), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(temp, path);
}

function parseRecord(json: unknown, path: string): DeploymentRecord {
  const fail = (what: string): never => {
    throw new Error(`${path} is not a deployment record: ${what}; fix or delete it (or set REDEPLOY=1)`);
  };
  const object = (value: unknown, name: string): Record<string, unknown> =>
    typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : fail(`${name} is not an object`);
  const address = (value: unknown, name: string): string =>
    typeof value === "string" && isAddress(value) ? getAddress(value) : fail(`${name} is not an address`);
  const count = (value: unknown, name: string): number =>
    typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : fail(`${name} is not a whole number`);
  const hash = (value: unknown, name: string): string =>
    isHexString(value, 32) ? (value as string) : fail(`${name} is not a transaction hash`);

  const root = object(json, "the file");
  const escrow = object(root.escrow, "escrow");
  const usdc = object(root.usdc, "usdc");
  if (typeof usdc.deployedHere !== "boolean") fail("usdc.deployedHere is not a boolean");
  if (!Array.isArray(root.signers)) fail("signers is not an array");
  if (typeof root.deployedAt !== "string") fail("deployedAt is not a string");
  return {
    chainId: count(root.chainId, "chainId"),
    escrow: {
      address: address(escrow.address, "escrow.address"),
      blockNumber: count(escrow.blockNumber, "escrow.blockNumber"),
      txHash: hash(escrow.txHash, "escrow.txHash"),
    },
    usdc: {
      address: address(usdc.address, "usdc.address"),
      deployedHere: usdc.deployedHere as boolean,
      ...(usdc.txHash === undefined ? {} : { txHash: hash(usdc.txHash, "usdc.txHash") }),
    },
    owner: address(root.owner, "owner"),
    ...(root.pendingOwner === undefined ? {} : { pendingOwner: address(root.pendingOwner, "pendingOwner") }),
    treasury: address(root.treasury, "treasury"),
    feeBps: count(root.feeBps, "feeBps"),
    thawingPeriodSeconds: count(root.thawingPeriodSeconds, "thawingPeriodSeconds"),
    signers: (root.signers as unknown[]).map((signer, i) => address(signer, `signers[${i}]`)),
    deployedAt: root.deployedAt as string,
  };
}
