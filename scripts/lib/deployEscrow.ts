import {
  formatEther,
  getAddress,
  ZeroAddress,
  type BaseContract,
  type ContractTransactionResponse,
  type Provider,
  type Signer,
  type TransactionReceipt,
} from "ethers";
import { IERC20Metadata__factory, MockUSDC__factory, UsageEscrow__factory } from "../../typechain-types";
import type { UsageEscrow } from "../../typechain-types";
import { readRecord, recordPath, writeRecord, type DeploymentRecord } from "./deploymentRecord";

/** Hardhat's chain id: the only chain where a missing USDC address means "deploy MockUSDC". */
export const LOCAL_CHAIN_ID = 31337n;
export const DEFAULT_FEE_BPS = 1000;
export const DEFAULT_THAWING_PERIOD_SECONDS = 7n * 24n * 60n * 60n;
export const DEFAULT_DEPLOYMENTS_DIR = "deployments";
/** USDC and MockUSDC both use 6 decimals; every amount in ShareAI assumes it. */
const USDC_DECIMALS = 6n;

export interface DeployEscrowOptions {
  /** The USDC token. Required off the local chain; on it, MockUSDC is deployed when unset. */
  usdcAddress?: string;
  /** The escrow's owner (signers, treasury); defaults to the deployer. */
  owner?: string;
  /** Receives the platform fee; defaults to the deployer on the local chain, required elsewhere. */
  treasury?: string;
  /** Authorised as a settlement signer after deployment, unless it already is. */
  settlementSigner?: string;
  thawingPeriodSeconds?: bigint;
  feeBps?: number;
  /** Where `<chainId>.json` lives; defaults to ./deployments. */
  deploymentsDir?: string;
  /** Deploy a new escrow (and MockUSDC, where it applies) even if the record points at a live one. */
  redeploy?: boolean;
  /** Only for the log (Hardhat's network name, e.g. "localhost"). */
  networkName?: string;
  /** Blocks to wait for each transaction; defaults to 1. */
  confirmations?: number;
}

export type Log = (line: string) => void;

interface EscrowConfig {
  /** Undefined only on the local chain: then the recorded MockUSDC is reused or a new one deployed. */
  usdcAddress?: string;
  owner: string;
  treasury: string;
  settlementSigner?: string;
  feeBps: number;
  thawingPeriodSeconds: bigint;
}

/**
 * Deploys the UsageEscrow (and MockUSDC on a local chain without a USDC address) with `signer`, or
 * reuses the escrow recorded in `<deploymentsDir>/<chainId>.json` when it is still on the chain and
 * configured as asked. Then it brings the escrow to the asked state: authorises the settlement signer
 * if it is not yet, and hands ownership to `owner` when the deployer had to own it first. Every step
 * is idempotent, so an interrupted run is finished by running it again.
 *
 * Needs only an ethers Signer with a provider (no Hardhat runtime), so the local launcher can call it.
 */
export async function deployEscrow(
  options: DeployEscrowOptions,
  signer: Signer,
  log: Log = console.log,
): Promise<DeploymentRecord> {
  const provider = signer.provider;
  if (!provider) throw new Error("deployEscrow needs a Signer connected to a provider");
  const { chainId, name } = await provider.getNetwork();
  const deployer = getAddress(await signer.getAddress());
  const balance = await provider.getBalance(deployer);
  const local = chainId === LOCAL_CHAIN_ID;

  log(`Network:   ${options.networkName ?? name} (chainId ${chainId}${local ? ", local" : ""})`);
  log(`Deployer:  ${deployer} (balance ${formatEther(balance)} ETH)`);
  if (balance === 0n) log("Warning:   the deployer has no ETH to pay for gas; any transaction will fail");

  const config = resolveConfig(options, chainId, deployer);
  const path = recordPath(options.deploymentsDir ?? DEFAULT_DEPLOYMENTS_DIR, chainId);
  const context: Context = { signer, provider, deployer, chainId, path, log, confirmations: options.confirmations ?? 1 };

  const recorded = readRecord(path);
  if (recorded && BigInt(recorded.chainId) !== chainId) {
    throw new Error(`${path} says chainId ${recorded.chainId}, but the network is chain ${chainId}`);
  }
  let record: DeploymentRecord | undefined;
  if (!recorded) {
    log(`Record:    ${path} (none yet)`);
  } else if (options.redeploy) {
    log(`Record:    ${path} points at ${recorded.escrow.address}; REDEPLOY is set, so deploying a new escrow`);
  } else {
    log(`Record:    ${path} points at ${recorded.escrow.address}`);
    record = await reuseRecorded(context, recorded, config);
  }
  record ??= await deployFresh(context, config);

  const escrow = UsageEscrow__factory.connect(record.escrow.address, signer);
  if (config.settlementSigner) await ensureSigner(context, escrow, config.settlementSigner);
  await ensureOwner(context, escrow, config.owner);

  const final = await describe(escrow, record, config.settlementSigner);
  if (JSON.stringify(final) !== JSON.stringify(record)) {
    writeRecord(path, final);
    log(`Wrote:     ${path}`);
  } else if (record === recorded) {
    log(`Record:    ${path} is up to date`);
  }
  log(`Done:      UsageEscrow ${final.escrow.address}, token ${final.usdc.address}, chain ${chainId}`);
  return final;
}

interface Context {
  signer: Signer;
  provider: Provider;
  deployer: string;
  chainId: bigint;
  path: string;
  log: Log;
  confirmations: number;
}

function resolveConfig(options: DeployEscrowOptions, chainId: bigint, deployer: string): EscrowConfig {
  const local = chainId === LOCAL_CHAIN_ID;
  if (!options.usdcAddress && !local) {
    throw new Error(
      `USDC_ADDRESS is required on chain ${chainId}: only the local chain (${LOCAL_CHAIN_ID}) deploys MockUSDC. ` +
        "Set it to the chain's USDC (Base Sepolia: 0x036CbD53842c5426634e7929541eC2318f3dCF7e).",
    );
  }
  if (!options.treasury && !local) {
    throw new Error(`TREASURY_ADDRESS is required on chain ${chainId}: it receives the platform fee`);
  }
  const feeBps = options.feeBps ?? DEFAULT_FEE_BPS;
  if (!Number.isInteger(feeBps) || feeBps < 0 || feeBps > 10_000) {
    throw new Error(`FEE_BPS must be a whole number from 0 to 10000, got ${feeBps}`);
  }
  const thawingPeriodSeconds = options.thawingPeriodSeconds ?? DEFAULT_THAWING_PERIOD_SECONDS;
  if (thawingPeriodSeconds <= 0n || thawingPeriodSeconds >= 2n ** 64n) {
    throw new Error(`THAWING_PERIOD_SECONDS must be a positive 64-bit number, got ${thawingPeriodSeconds}`);
  }
  const address = (value: string, name: string) => {
    try {
      const checksummed = getAddress(value);
      if (checksummed === ZeroAddress) throw new Error("zero address");
      return checksummed;
    } catch {
      throw new Error(`${name} is not a usable address (wrong length, bad checksum or zero): ${value}`);
    }
  };
  return {
    usdcAddress: options.usdcAddress ? address(options.usdcAddress, "USDC_ADDRESS") : undefined,
    owner: options.owner ? address(options.owner, "ESCROW_OWNER") : deployer,
    treasury: options.treasury ? address(options.treasury, "TREASURY_ADDRESS") : deployer,
    settlementSigner: options.settlementSigner
      ? address(options.settlementSigner, "SETTLEMENT_SIGNER_ADDRESS")
      : undefined,
    feeBps,
    thawingPeriodSeconds,
  };
}

/**
 * The recorded escrow if it is live and configured as asked; undefined if the record is stale.
 * Throws if it is live but configured differently: replacing a live escrow must be asked for.
 */
async function reuseRecorded(
  context: Context,
  recorded: DeploymentRecord,
  config: EscrowConfig,
): Promise<DeploymentRecord | undefined> {
  const { provider, log, path, chainId, deployer } = context;
  const address = recorded.escrow.address;
  if ((await provider.getCode(address)) === "0x") {
    log(`Stale:     no contract at ${address} on chain ${chainId} (a restarted local chain?); deploying afresh`);
    return undefined;
  }
  const escrow = UsageEscrow__factory.connect(address, provider);
  let onChain;
  try {
    const [token, owner, pendingOwner, treasury, feeBps, thawingPeriod] = await Promise.all([
      escrow.token(),
      escrow.owner(),
      escrow.pendingOwner(),
      escrow.treasury(),
      escrow.feeBps(),
      escrow.thawingPeriod(),
    ]);
    onChain = { token, owner, pendingOwner, treasury, feeBps: Number(feeBps), thawingPeriod };
  } catch (error) {
    throw new Error(
      `${path} points at ${address}, which has code but does not answer as a UsageEscrow ` +
        `(${(error as Error).message}); set REDEPLOY=1 to deploy a new one`,
    );
  }

  // Unset on the local chain means "the MockUSDC we deployed", which the record names.
  const wantToken = config.usdcAddress ?? recorded.usdc.address;
  const mismatches: string[] = [];
  const compare = (what: string, actual: unknown, wanted: unknown) => {
    if (actual !== wanted) mismatches.push(`${what}: ${actual} on chain, ${wanted} asked`);
  };
  compare("token", onChain.token, wantToken);
  compare("treasury", onChain.treasury, config.treasury);
  compare("feeBps", onChain.feeBps, config.feeBps);
  compare("thawingPeriodSeconds", onChain.thawingPeriod, config.thawingPeriodSeconds);
  // The owner matches if it is the one asked, is about to be, or is the deployer, who can hand it over.
  if (![onChain.owner, onChain.pendingOwner].includes(config.owner) && onChain.owner !== deployer) {
    mismatches.push(`owner: ${onChain.owner} on chain, ${config.owner} asked`);
  }
  if (mismatches.length > 0) {
    throw new Error(
      `the escrow ${address} recorded in ${path} is configured differently from what was asked:\n` +
        mismatches.map((line) => `  - ${line}`).join("\n") +
        "\nChange the settings to match, or set REDEPLOY=1 to deploy a new escrow (the old one stays on chain).",
    );
  }
  log(
    `Reusing:   UsageEscrow ${address} (block ${recorded.escrow.blockNumber}, tx ${recorded.escrow.txHash}); ` +
      "its configuration matches",
  );
  return recorded;
}

async function deployFresh(context: Context, config: EscrowConfig): Promise<DeploymentRecord> {
  const { signer, deployer, log, path } = context;
  let usdc: DeploymentRecord["usdc"];
  if (config.usdcAddress) {
    await checkToken(context, config.usdcAddress);
    usdc = { address: config.usdcAddress, deployedHere: false };
  } else {
    log("Deploying: MockUSDC (local chain and USDC_ADDRESS unset)");
    const mock = await confirmDeployment(context, await new MockUSDC__factory(signer).deploy());
    usdc = { address: mock.address, deployedHere: true, txHash: mock.txHash };
  }

  // Only the owner can authorise a signer: when someone else is to own the escrow, the deployer owns
  // it first and hands it over afterwards (Ownable2Step: the new owner accepts).
  const initialOwner = config.settlementSigner && config.owner !== deployer ? deployer : config.owner;
  log(
    `Deploying: UsageEscrow(token ${usdc.address}, owner ${initialOwner}, treasury ${config.treasury}, ` +
      `feeBps ${config.feeBps}, thawingPeriod ${config.thawingPeriodSeconds} s)`,
  );
  const escrow = await confirmDeployment(
    context,
    await new UsageEscrow__factory(signer).deploy(
      usdc.address,
      initialOwner,
      config.treasury,
      config.feeBps,
      config.thawingPeriodSeconds,
    ),
  );
  const block = await context.provider.getBlock(escrow.blockNumber);
  const record: DeploymentRecord = {
    chainId: Number(context.chainId),
    escrow: { address: escrow.address, blockNumber: escrow.blockNumber, txHash: escrow.txHash },
    usdc,
    owner: initialOwner,
    treasury: config.treasury,
    feeBps: config.feeBps,
    thawingPeriodSeconds: Number(config.thawingPeriodSeconds),
    signers: [],
    deployedAt: new Date(Number(block?.timestamp ?? Math.floor(Date.now() / 1000)) * 1000).toISOString(),
  };
  // Written before the follow-up transactions, so a run that dies after this point resumes with
  // this escrow instead of deploying yet another one.
  writeRecord(path, record);
  log(`Wrote:     ${path}`);
  return record;
}

async function checkToken(context: Context, address: string): Promise<void> {
  const { provider, chainId, log } = context;
  if ((await provider.getCode(address)) === "0x") {
    throw new Error(`USDC_ADDRESS ${address} has no contract on chain ${chainId}: wrong address or wrong network?`);
  }
  const token = IERC20Metadata__factory.connect(address, provider);
  let symbol: string;
  let decimals: bigint;
  try {
    [symbol, decimals] = await Promise.all([token.symbol(), token.decimals()]);
  } catch (error) {
    throw new Error(`USDC_ADDRESS ${address} does not answer as an ERC-20 token: ${(error as Error).message}`);
  }
  if (decimals !== USDC_DECIMALS) {
    throw new Error(`USDC_ADDRESS ${address} (${symbol}) has ${decimals} decimals; ShareAI expects USDC's ${USDC_DECIMALS}`);
  }
  log(`Token:     ${address} (${symbol}, ${decimals} decimals)`);
}

async function ensureSigner(context: Context, escrow: UsageEscrow, settlementSigner: string): Promise<void> {
  const { log, deployer } = context;
  if (await escrow.isSigner(settlementSigner)) {
    log(`Signer:    ${settlementSigner} is already authorised`);
    return;
  }
  const owner = await escrow.owner();
  if (owner !== deployer) {
    throw new Error(
      `cannot authorise settlement signer ${settlementSigner}: the escrow's owner is ${owner}, not the deployer ` +
        `${deployer}; the owner must call authorizeSigner(${settlementSigner})`,
    );
  }
  log(`Authorising settlement signer ${settlementSigner}`);
  await confirm(context, escrow.authorizeSigner(settlementSigner));
}

async function ensureOwner(context: Context, escrow: UsageEscrow, wantedOwner: string): Promise<void> {
  const { log, deployer } = context;
  const [owner, pendingOwner] = await Promise.all([escrow.owner(), escrow.pendingOwner()]);
  if (owner === wantedOwner) return;
  if (pendingOwner !== wantedOwner) {
    // reuseRecorded only lets a different owner through when the deployer holds the escrow.
    if (owner !== deployer) throw new Error(`the escrow's owner is ${owner}; only it can hand the escrow to ${wantedOwner}`);
    log(`Transferring ownership to ${wantedOwner}`);
    await confirm(context, escrow.transferOwnership(wantedOwner));
  }
  log(`Owner:     ${owner} until ${wantedOwner} calls acceptOwnership() on ${await escrow.getAddress()}`);
}

/** The record as the chain has it now: configuration, owner and which known signers are authorised. */
async function describe(
  escrow: UsageEscrow,
  record: DeploymentRecord,
  settlementSigner: string | undefined,
): Promise<DeploymentRecord> {
  const candidates = [...new Set([...record.signers, ...(settlementSigner ? [settlementSigner] : [])])];
  const [token, owner, pendingOwner, treasury, feeBps, thawingPeriod, authorised] = await Promise.all([
    escrow.token(),
    escrow.owner(),
    escrow.pendingOwner(),
    escrow.treasury(),
    escrow.feeBps(),
    escrow.thawingPeriod(),
    Promise.all(candidates.map((candidate) => escrow.isSigner(candidate))),
  ]);
  return {
    chainId: record.chainId,
    escrow: record.escrow,
    usdc: { ...record.usdc, address: token },
    owner,
    ...(pendingOwner === ZeroAddress ? {} : { pendingOwner }),
    treasury,
    feeBps: Number(feeBps),
    thawingPeriodSeconds: Number(thawingPeriod),
    signers: candidates.filter((_, i) => authorised[i]),
    deployedAt: record.deployedAt,
  };
}

async function confirm(
  context: Context,
  sent: Promise<ContractTransactionResponse>,
): Promise<TransactionReceipt> {
  const tx = await sent;
  context.log(`  tx ${tx.hash}`);
  const receipt = await tx.wait(context.confirmations);
  if (!receipt || receipt.status !== 1) throw new Error(`transaction ${tx.hash} failed`);
  context.log(`  mined in block ${receipt.blockNumber} (gas used ${receipt.gasUsed})`);
  return receipt;
}

async function confirmDeployment(
  context: Context,
  contract: BaseContract,
): Promise<{ address: string; txHash: string; blockNumber: number }> {
  const tx = contract.deploymentTransaction();
  if (!tx) throw new Error("deployment transaction missing");
  context.log(`  tx ${tx.hash}`);
  const receipt = await tx.wait(context.confirmations);
  if (!receipt || receipt.status !== 1) throw new Error(`deployment transaction ${tx.hash} failed`);
  const address = getAddress(receipt.contractAddress ?? (await contract.getAddress()));
  context.log(`  deployed at ${address} in block ${receipt.blockNumber} (gas used ${receipt.gasUsed})`);
  return { address, txHash: tx.hash, blockNumber: receipt.blockNumber };
}
