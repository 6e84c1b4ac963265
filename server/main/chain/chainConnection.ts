import { getAddress, JsonRpcProvider, Wallet, type BaseWallet } from "ethers";
import type { GatewayConfig } from "../../config";
import { defaultConfirmations, locateEscrow } from "../../chain/chainWatcherSettings";
import { UsageEscrow__factory } from "../../../typechain-types";
import type { SettlementSettings } from "../../workers/settlement/settlementSettings";

/**
 * Everything the gateway needs to follow and settle on the escrow's chain:
 * a provider, the escrow and its token, the settlement keys (inside Wallets,
 * never logged) and the workers' settings. Built from RPC_URL & co.
 * (`connectChain`) or by the local network for its Hardhat chain.
 */
export interface ChainConnection {
  /** For people: the RPC URL of a local chain; of a remote one, only its origin (hosted URLs carry API keys). */
  rpcUrlForDisplay: string;
  chainId: bigint;
  provider: JsonRpcProvider;
  escrowAddress: string;
  tokenAddress: string;
  treasury: string;
  deploymentBlock: number;
  /** Where the escrow's address came from (the log says it). */
  escrowSource: string;
  signer: BaseWallet;
  submitter: BaseWallet;
  /** A local Hardhat chain that `shareai start` runs (and recreates on every start). */
  local: boolean;
  watcher: { confirmations: number; pollIntervalMs: number; logBlockRange: number; maxReorgDepth: number };
  settlement: Partial<SettlementSettings>;
}

export class ChainConfigError extends Error {
  override name = "ChainConfigError";
}

/** What a remote chain runs with when a variable is unset (the settlement worker's own defaults apply too). */
export const REMOTE_DEFAULTS = { pollIntervalMs: 2_000, blockTimeMs: 2_000 };

/**
 * Connects to the chain RPC_URL names and finds the escrow (ESCROW_ADDRESS or
 * DEPLOYMENTS_FILE). Refuses, naming what is missing, without both settlement
 * keys, when the chain is not the CHAIN_ID sign-in messages name, or when no
 * escrow answers at the address.
 */
export async function connectChain(config: GatewayConfig, deploymentsDir = "deployments"): Promise<ChainConnection> {
  const { chain, settlement } = config;
  if (!chain.rpcUrl) throw new ChainConfigError("RPC_URL is not set");
  const missing = [
    ...(settlement.signerKey ? [] : ["SETTLEMENT_SIGNER_KEY"]),
    ...(settlement.submitterKey ? [] : ["SETTLEMENT_SUBMITTER_KEY"]),
  ];
  if (missing.length > 0) {
    throw new ChainConfigError(
      `RPC_URL is set, so the settlement worker runs, and it needs ${missing.join(" and ")} ` +
        "(the voucher signer must be authorised on the escrow; the submitter pays gas)",
    );
  }
  // No result cache: a second transaction in a row must see the submitter's new nonce.
  const provider = new JsonRpcProvider(chain.rpcUrl, undefined, { cacheTimeout: -1 });
  try {
    const { chainId } = await provider.getNetwork();
    if (chainId !== BigInt(config.web.chainId)) {
      throw new ChainConfigError(
        `RPC_URL serves chain ${chainId} but CHAIN_ID is ${config.web.chainId} (sign-in messages name it): set CHAIN_ID=${chainId}`,
      );
    }
    let location;
    try {
      location = locateEscrow(
        {
          escrowAddress: chain.escrowAddress,
          escrowDeploymentBlock: chain.escrowDeploymentBlock,
          deploymentsFile: chain.deploymentsFile,
        },
        chainId,
        deploymentsDir,
      );
    } catch (error) {
      throw new ChainConfigError((error as Error).message);
    }
    const escrow = UsageEscrow__factory.connect(location.address, provider);
    if ((await provider.getCode(location.address)) === "0x") {
      throw new ChainConfigError(`no contract at the escrow address ${location.address} on chain ${chainId}`);
    }
    const [tokenAddress, treasury] = await Promise.all([escrow.token(), escrow.treasury()]);
    return {
      rpcUrlForDisplay: new URL(chain.rpcUrl).origin,
      chainId,
      provider,
      escrowAddress: getAddress(location.address),
      tokenAddress: getAddress(tokenAddress),
      treasury: getAddress(treasury),
      deploymentBlock: location.deploymentBlock,
      escrowSource: location.source,
      signer: new Wallet(settlement.signerKey!),
      submitter: new Wallet(settlement.submitterKey!, provider),
      local: false,
      watcher: {
        confirmations: chain.confirmations ?? defaultConfirmations(chainId),
        pollIntervalMs: chain.pollIntervalMs ?? REMOTE_DEFAULTS.pollIntervalMs,
        logBlockRange: chain.logBlockRange,
        maxReorgDepth: chain.maxReorgDepth,
      },
      settlement: settlementSettingsFrom(config, {
        confirmations: chain.confirmations ?? defaultConfirmations(chainId),
        blockTimeMs: chain.blockTimeMs ?? REMOTE_DEFAULTS.blockTimeMs,
      }),
    };
  } catch (error) {
    provider.destroy();
    throw error;
  }
}

/** The worker's settings: what the configuration sets, over `base` (the local network's faster defaults). */
export function settlementSettingsFrom(
  config: Pick<GatewayConfig, "settlement">,
  base: Partial<SettlementSettings>,
): Partial<SettlementSettings> {
  const s = config.settlement;
  const given: Partial<SettlementSettings> = {
    intervalMs: s.intervalMs ?? undefined,
    pollMs: s.pollMs ?? undefined,
    thresholdBase: s.thresholdBase ?? undefined,
    batchSize: s.batchSize ?? undefined,
    maxBatchesPerTick: s.maxBatchesPerTick ?? undefined,
    txTimeoutMs: s.txTimeoutMs ?? undefined,
    feeBumpBps: s.feeBumpBps ?? undefined,
    maxFeePerGasWei: s.maxFeePerGasWei ?? undefined,
    gasLimitMarginBps: s.gasLimitMarginBps ?? undefined,
    maxReceiptsPerVoucher: s.maxReceiptsPerVoucher ?? undefined,
  };
  const defined = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined));
  return { ...base, ...defined };
}
