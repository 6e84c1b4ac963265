import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { getAddress, type HDNodeWallet, type JsonRpcProvider, type TransactionReceipt } from "ethers";
import type { Logger } from "pino";
import { deployEscrow } from "../../../scripts/lib/deployEscrow";
import { MockUSDC__factory, UsageEscrow__factory } from "../../../typechain-types";
import type { GatewayConfig } from "../../config";
import type { ChainConnection } from "./chainConnection";
import { settlementSettingsFrom } from "./chainConnection";
import { startHardhatNode, type HardhatNode } from "./hardhatNode";
import { LOCAL_ROLES } from "./localAccounts";
import { depositWithPermit } from "./permitDeposit";

/**
 * The local network's chain: a fresh `hardhat node` (chain 31337, in memory),
 * mining on every transaction and once a second (so confirmations come without
 * traffic), with MockUSDC and the escrow deployed by scripts/lib/deployEscrow.
 */
export interface LocalChain {
  node: HardhatNode;
  rpcUrl: string;
  chainId: bigint;
  provider: JsonRpcProvider;
  escrowAddress: string;
  tokenAddress: string;
  deploymentBlock: number;
  thawingPeriodSeconds: bigint;
  owner: string;
  treasury: string;
  /** Where the deployment record and network.json are written. */
  dir: string;
  account(index: number): HDNodeWallet;
  /** The connection the gateway's workers use (signer and submitter are Hardhat accounts #4 and #5). */
  connection: ChainConnection;
  /** Mints MockUSDC to `payer` and deposits it with a permit signed by `payer` (one signature). */
  fund(payer: HDNodeWallet, amountBase: bigint): Promise<TransactionReceipt>;
  /** Mints MockUSDC to the deployer and deposits it for `account` (`depositFor`: no key of `account` needed). */
  fundFor(account: string, amountBase: bigint): Promise<TransactionReceipt>;
  stop(): Promise<void>;
}

export interface LocalChainOptions {
  /** Port to try first (LOCAL_CHAIN_PORT, default 8545); taken or 0: a free port. */
  port?: number;
  /** Milliseconds between blocks mined without transactions (1000; the thawing check assumes it). */
  blockIntervalMs?: number;
  /** The escrow's thawing period: 1 hour, well above the local settlement interval. */
  thawingPeriodSeconds?: bigint;
  logger?: Pick<Logger, "debug" | "info">;
}

/** Local settlement: every 15 s (instead of 15 min), polled every 3 s; each block is a second. */
export const LOCAL_SETTLEMENT_DEFAULTS = { intervalMs: 15_000, pollMs: 3_000, blockTimeMs: 1_000 };
export const LOCAL_WATCHER_POLL_MS = 500;
export const LOCAL_CONFIRMATIONS = 2;
export const LOCAL_THAWING_PERIOD_SECONDS = 3_600n;

/** Where the local chain's files go: next to the embedded Postgres's data (`.data/local-chain`). */
export function localChainDir(config: Pick<GatewayConfig, "pgDataDir">): string {
  return path.join(path.dirname(path.resolve(config.pgDataDir)), "local-chain");
}

export async function startLocalChain(config: GatewayConfig, options: LocalChainOptions = {}): Promise<LocalChain> {
  const logger = options.logger;
  const node = await startHardhatNode({
    preferredPort: options.port ?? config.chain.localChainPort,
  });
  const provider = node.provider();
  try {
    const blockIntervalMs = options.blockIntervalMs ?? config.chain.blockTimeMs ?? LOCAL_SETTLEMENT_DEFAULTS.blockTimeMs;
    // Automine stays on (each transaction gets its block at once); empty blocks make confirmations come.
    await provider.send("evm_setIntervalMining", [blockIntervalMs]);
    const account = (index: number) => node.account(index, provider);
    const deployer = account(LOCAL_ROLES.deployer);
    const treasury = account(LOCAL_ROLES.treasury).address;
    const signer = account(LOCAL_ROLES.settlementSigner);
    const submitter = account(LOCAL_ROLES.settlementSubmitter);
    const thawingPeriodSeconds = options.thawingPeriodSeconds ?? LOCAL_THAWING_PERIOD_SECONDS;

    const dir = localChainDir(config);
    const deploymentsDir = path.join(dir, "deployments");
    // The chain is new: a record of the previous one would only be found stale.
    rmSync(deploymentsDir, { recursive: true, force: true });
    mkdirSync(deploymentsDir, { recursive: true });
    const record = await deployEscrow(
      {
        deploymentsDir,
        treasury,
        settlementSigner: signer.address,
        thawingPeriodSeconds,
        networkName: "local",
      },
      deployer,
      (line) => logger?.debug({ component: "deploy" }, line),
    );
    const escrowAddress = getAddress(record.escrow.address);
    const tokenAddress = getAddress(record.usdc.address);
    writeFileSync(
      path.join(dir, "network.json"),
      `${JSON.stringify(
        {
          rpcUrl: node.url,
          chainId: Number(node.chainId),
          escrow: escrowAddress,
          token: tokenAddress,
          deploymentBlock: record.escrow.blockNumber,
          deploymentsFile: path.join(deploymentsDir, `${node.chainId}.json`),
          treasury,
          pid: process.pid,
        },
        null,
        2,
      )}\n`,
    );
    logger?.info({ rpcUrl: node.url, escrow: escrowAddress, token: tokenAddress }, "local chain ready");

    const usdc = MockUSDC__factory.connect(tokenAddress, deployer);
    const escrow = UsageEscrow__factory.connect(escrowAddress, deployer);
    const connection: ChainConnection = {
      rpcUrlForDisplay: node.url,
      chainId: node.chainId,
      provider,
      escrowAddress,
      tokenAddress,
      treasury,
      deploymentBlock: record.escrow.blockNumber,
      escrowSource: "the local chain",
      signer,
      submitter,
      local: true,
      watcher: {
        confirmations: config.chain.confirmations ?? LOCAL_CONFIRMATIONS,
        pollIntervalMs: config.chain.pollIntervalMs ?? LOCAL_WATCHER_POLL_MS,
        logBlockRange: config.chain.logBlockRange,
        maxReorgDepth: config.chain.maxReorgDepth,
      },
      settlement: settlementSettingsFrom(config, {
        intervalMs: LOCAL_SETTLEMENT_DEFAULTS.intervalMs,
        pollMs: LOCAL_SETTLEMENT_DEFAULTS.pollMs,
        confirmations: config.chain.confirmations ?? LOCAL_CONFIRMATIONS,
        blockTimeMs: blockIntervalMs,
      }),
    };

    const mined = async (sent: Promise<{ wait(): Promise<TransactionReceipt | null>; hash: string }>) => {
      const tx = await sent;
      const receipt = await tx.wait();
      if (!receipt || receipt.status !== 1) throw new Error(`transaction ${tx.hash} failed`);
      return receipt;
    };
    return {
      node,
      rpcUrl: node.url,
      chainId: node.chainId,
      provider,
      escrowAddress,
      tokenAddress,
      deploymentBlock: record.escrow.blockNumber,
      thawingPeriodSeconds,
      owner: record.owner,
      treasury,
      dir,
      account,
      connection,
      async fund(payer, amountBase) {
        await mined(usdc.mint(payer.address, amountBase));
        return depositWithPermit(payer.connect(provider), tokenAddress, escrowAddress, amountBase);
      },
      async fundFor(accountAddress, amountBase) {
        await mined(usdc.mint(deployer.address, amountBase));
        await mined(usdc.approve(escrowAddress, amountBase));
        return mined(escrow.depositFor(accountAddress, amountBase));
      },
      async stop() {
        provider.destroy();
        await node.stop();
      },
    };
  } catch (error) {
    provider.destroy();
    await node.stop();
    throw error;
  }
}
