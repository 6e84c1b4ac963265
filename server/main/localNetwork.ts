import type { Logger } from "pino";
import { createLogger, flushLogger } from "../app";
import type { GatewayConfig } from "../config";
import { DEMO_ACCOUNT, DEMO_BALANCE_BASE, issueDemoAccess, type DemoAccess } from "../demo/demoAccount";
import { DEMO_MODEL } from "../demo/demoModel";
import { DEMO_PROVIDER, decideDemo, registerDemoProvider, type DemoDecision } from "../demo/demoProvider";
import { startEchoUpstream } from "../demo/echoUpstream";
import type { Database } from "../persistence";
import { UsageEscrow__factory } from "../../typechain-types";
import type { ChainConnection } from "./chain/chainConnection";
import { resolveChainMode, type ChainMode, type ChainModeRequest } from "./chain/chainMode";
import { LOCAL_ROLES } from "./chain/localAccounts";
import { startLocalChain, type LocalChain, type LocalChainOptions } from "./chain/localChain";
import { resetForNewLocalChain } from "./chain/resetForNewLocalChain";
import { openGatewayDatabase } from "./gatewayDatabase";
import { startAll } from "./lifecycle";
import { assertPortAvailable } from "./portAvailability";
import { startGateway, type GatewayProcess, type StartGatewayOptions } from "./startGateway";

export interface LocalNetworkOptions {
  logger?: Logger;
  /** false: never start the demo, whatever the database holds (`shareai start --no-demo`). */
  demo?: boolean;
  /** Pause between the demo's streamed words (tests pass 0). */
  demoWordDelayMs?: number;
  /**
   * Which chain: "auto" (default) = RPC_URL's when set, else a local Hardhat chain with the
   * embedded Postgres, else (DATABASE_URL without RPC_URL) a refusal; "local" = a local chain
   * whatever the database; "none" = no chain, no watcher, no settlement.
   */
  chain?: ChainModeRequest;
  /** The local chain's settings (tests: a free port). */
  localChain?: LocalChainOptions;
  /** More /api routes (the receipt route). */
  extraWebRoutes?: StartGatewayOptions["extraWebRoutes"];
}

export interface LocalDemo extends DemoAccess {
  modelId: string;
  /** Where the echo upstream listens (the gateway's upstream; clients use the gateway). */
  upstreamBaseUrl: string;
  /** The demo provider's payout address (Hardhat account #2). */
  providerAddress: string;
}

/** What the banner says about the chain. */
export interface NetworkChainInfo {
  mode: Exclude<ChainMode, "none">;
  rpcUrl: string;
  chainId: bigint;
  escrowAddress: string;
  tokenAddress: string;
  treasury: string;
  confirmations: number;
  settlementIntervalMs: number;
  /** The local chain only: its thawing period, owner, signer and submitter. */
  local: {
    thawingPeriodSeconds: bigint;
    owner: string;
    signer: string;
    submitter: string;
    dir: string;
  } | null;
}

export interface LocalNetwork {
  /** The gateway's OpenAI base URL, `…/v1`. */
  url: string;
  port: number;
  rateLimitBackend: "memory" | "redis";
  /** Set when the demo runs: the key to print, and what it may use. */
  demo: LocalDemo | null;
  /** Why the demo runs or not, for the banner. */
  demoDecision: DemoDecision;
  /** The chain settled on; null with `chain: "none"`. */
  chain: NetworkChainInfo | null;
  /** The running parts, for tests and tools. */
  gateway: GatewayProcess;
  localChain: LocalChain | null;
  database: Database;
  /** Everything stopped in reverse order: the gateway (drained), its workers, the demo upstream, the database, the chain. */
  stop(): Promise<void>;
}

/**
 * What `shareai start` runs: a local Hardhat chain with MockUSDC and the
 * escrow (unless RPC_URL names a chain, or there is to be none), the database
 * the configuration names (embedded by default), the demo provider when the
 * database has none, and a gateway with the chain watcher and the settlement
 * worker. On the local chain the demo account's balance is a MockUSDC deposit
 * (with a permit) that the watcher mirrors. Each part is one `lifecycle.add`,
 * so stopping is reverse order of start.
 */
export async function startLocalNetwork(
  config: GatewayConfig,
  options: LocalNetworkOptions = {},
): Promise<LocalNetwork> {
  const logger = options.logger ?? createLogger(config);
  const mode = resolveChainMode(config, options.chain ?? "auto");
  const { value, lifecycle } = await startAll(async (lifecycle) => {
    // Before the database: a gateway already running here owns the embedded Postgres we would take over.
    await assertPortAvailable(config.host, config.port);

    const localChain =
      mode === "local"
        ? lifecycle.add(
            "local chain",
            await startLocalChain(config, { ...options.localChain, logger: options.localChain?.logger ?? logger }),
            (chain) => chain.stop(),
          )
        : null;
    const database = lifecycle.add("database", await openGatewayDatabase(config, { logger }), (db) => db.close());
    if (localChain) {
      const reset = await resetForNewLocalChain(database);
      if (reset.mirrorRolledBack || reset.vouchersForgotten > 0) {
        logger.info(reset, "new local chain: the previous chain's mirror and vouchers are forgotten; earlier usage settles again");
      }
    }

    const demoDecision: DemoDecision =
      options.demo === false
        ? { run: false, reason: "--no-demo" }
        : mode === "rpc"
          ? { run: false, reason: "RPC_URL names a real chain; the demo's Hardhat accounts are for the local chain" }
          : await decideDemo(database);
    let echoBaseUrl: string | null = null;
    if (demoDecision.run) {
      const echo = lifecycle.add(
        "demo upstream",
        await startEchoUpstream({ wordDelayMs: options.demoWordDelayMs }),
        (upstream) => upstream.close(),
      );
      await registerDemoProvider(database, echo.baseUrl);
      echoBaseUrl = echo.baseUrl;
      logger.info({ model: DEMO_MODEL.id, upstream: echo.baseUrl }, "demo upstream serving");
    }
    // The demo's deposit goes in before the watcher starts: its catch-up then mirrors it.
    const demoDeposit = localChain && demoDecision.run ? await fundDemoOnChain(localChain) : null;

    const chainOption: ChainConnection | null | undefined =
      mode === "local" ? localChain!.connection : mode === "none" ? null : undefined;
    const gateway = lifecycle.add(
      "gateway",
      await startGateway(config, { database, logger, chain: chainOption, extraWebRoutes: options.extraWebRoutes }),
      (g) => g.stop(),
    );

    let demo: LocalDemo | null = null;
    if (echoBaseUrl) {
      if (demoDeposit !== null && gateway.chain) await gateway.chain.workers.waitForMirror(demoDeposit);
      demo = {
        ...(await issueDemoAccess(database, { funding: gateway.chain ? "chain" : "ledger" })),
        modelId: DEMO_MODEL.id,
        upstreamBaseUrl: echoBaseUrl,
        providerAddress: DEMO_PROVIDER.payoutAddress,
      };
    }
    return { gateway, demo, demoDecision, localChain, database };
  });

  const { gateway, localChain } = value;
  const chain: NetworkChainInfo | null = gateway.chain && {
    mode: localChain ? "local" : "rpc",
    rpcUrl: gateway.chain.rpcUrlForDisplay,
    chainId: gateway.chain.chainId,
    escrowAddress: gateway.chain.escrowAddress,
    tokenAddress: gateway.chain.tokenAddress,
    treasury: gateway.chain.treasury,
    confirmations: gateway.chain.watcher.confirmations,
    settlementIntervalMs: gateway.chain.workers.worker.status().settings.intervalMs,
    local: localChain && {
      thawingPeriodSeconds: localChain.thawingPeriodSeconds,
      owner: localChain.owner,
      signer: gateway.chain.signer.address,
      submitter: gateway.chain.submitter.address,
      dir: localChain.dir,
    },
  };
  return {
    url: gateway.url,
    port: gateway.port,
    rateLimitBackend: gateway.rateLimitBackend,
    demo: value.demo,
    demoDecision: value.demoDecision,
    chain,
    gateway,
    localChain,
    database: value.database,
    // Log lines are buffered (createLogger): the last ones are written before stop resolves.
    stop: () => lifecycle.stop().finally(() => flushLogger(logger)),
  };
}

/**
 * Tops the demo account's escrow deposit up to the demo balance on the local
 * chain: MockUSDC minted to it, then deposited with a permit it signs (its
 * key is Hardhat's public account #1). Returns the deposit's block, or the
 * current block when nothing was needed.
 */
async function fundDemoOnChain(chain: LocalChain): Promise<number> {
  const demoWallet = chain.account(LOCAL_ROLES.demoUser);
  if (demoWallet.address.toLowerCase() !== DEMO_ACCOUNT) throw new Error("the demo account is not Hardhat account #1");
  const escrow = UsageEscrow__factory.connect(chain.escrowAddress, chain.provider);
  const { available } = await escrow.balanceOf(demoWallet.address);
  if (available >= DEMO_BALANCE_BASE) return chain.provider.getBlockNumber();
  const receipt = await chain.fund(demoWallet, DEMO_BALANCE_BASE - available);
  return receipt.blockNumber;
}
