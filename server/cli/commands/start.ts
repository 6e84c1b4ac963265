import { Option, type Command } from "commander";
import pino from "pino";
import { loadConfig, type GatewayConfig } from "../../config";
import { describeDatabase } from "../../main/gatewayDatabase";
import { resolveChainMode, type ChainModeRequest } from "../../main/chain/chainMode";
import { startLocalNetwork, type LocalNetwork } from "../../main/localNetwork";
import type { CliIo } from "../io";
import { listenForShutdown } from "../shutdownSignals";
import { startBanner } from "../startBanner";
import { canSupervise, runSupervised } from "../supervise";

/** How long stopping may take beyond the requests' grace period before the process gives up on it. */
const STOP_MARGIN_MS = 30_000;

interface StartOptions {
  demo: boolean;
  /** false with --no-chain. */
  chain: boolean;
  localChain?: boolean;
  inProcess?: boolean;
}

function chainRequest(options: StartOptions): ChainModeRequest {
  if (!options.chain) return "none";
  return options.localChain ? "local" : "auto";
}

export function registerStartCommand(program: Command, io: CliIo): void {
  program
    .command("start")
    .description(
      "run the gateway until Ctrl-C: a local Hardhat chain unless RPC_URL is set, embedded Postgres unless DATABASE_URL is set, the chain watcher and settlement worker, and a demo upstream when no provider is configured",
    )
    .option("--no-demo", "never start the built-in demo upstream")
    .option("--local-chain", "start a local Hardhat chain even though DATABASE_URL is set")
    .option("--no-chain", "run without a chain: no chain watcher, no settlement (balances from `accounts set-balance`)")
    .addOption(new Option("--in-process", "run here rather than in a process group of its own (internal)").hideHelp())
    .action(async (options: StartOptions, command: Command) => {
      const json = command.optsWithGlobals().json === true;
      const config = loadConfig(io.env);
      // Refused before anything starts (DATABASE_URL without RPC_URL, say), in one line.
      const mode = resolveChainMode(config, chainRequest(options));
      // The embedded Postgres and the local chain are our child processes: keep a terminal's Ctrl-C
      // away from them (see supervise.ts).
      if (!options.inProcess && (!config.databaseUrl || mode === "local") && canSupervise()) {
        const argv = [
          "start",
          "--in-process",
          ...(options.demo ? [] : ["--no-demo"]),
          ...(options.chain ? [] : ["--no-chain"]),
          ...(options.localChain ? ["--local-chain"] : []),
          ...(json ? ["--json"] : []),
        ];
        const code = await runSupervised(argv, io);
        if (code !== 0) throw new ExitCode(code);
        return;
      }
      await serveUntilSignal(io, config, options, json);
    });
}

/** The supervised server's exit code, passed on as this process's own (the server has said why). */
export class ExitCode extends Error {
  constructor(readonly code: number) {
    super(`exited with code ${code}`);
    this.name = "ExitCode";
  }
}

async function serveUntilSignal(io: CliIo, config: GatewayConfig, options: StartOptions, json: boolean): Promise<void> {
  // Written synchronously, so log lines and the banner reach the terminal in the order they happened.
  const logger = pino(
    { level: config.logLevel, base: { service: "shareai-gateway" } },
    pino.destination({ dest: 1, sync: true }),
  );
  const signals = listenForShutdown((signal) => {
    io.stderr(`${signal} again: exiting before the shutdown finished\n`);
    process.exit(130);
  });
  let network: LocalNetwork;
  try {
    network = await startLocalNetwork(config, { logger, demo: options.demo, chain: chainRequest(options) });
  } catch (error) {
    signals.dispose();
    throw error;
  }
  signals.takeOver();
  printReady(io, network, config, json);

  const signal = await signals.received;
  logger.info({ signal }, "stopping: draining requests in flight, then the workers, the database and the chain");
  await withDeadline(network.stop(), config.shutdownGraceMs + STOP_MARGIN_MS, "stopping did not finish in time");
  signals.dispose();
  logger.info("stopped");
  if (json) io.stdout(`${JSON.stringify({ event: "stopped", signal })}\n`);
}

function printReady(io: CliIo, network: LocalNetwork, config: GatewayConfig, json: boolean): void {
  if (!json) {
    io.stdout(`${startBanner(network, config).join("\n")}\n`);
    return;
  }
  const demo = network.demo;
  const ready = {
    event: "ready",
    url: network.url,
    database: describeDatabase(config),
    rateLimits: network.rateLimitBackend,
    chain: network.chain && {
      mode: network.chain.mode,
      rpcUrl: network.chain.rpcUrl,
      chainId: Number(network.chain.chainId),
      escrow: network.chain.escrowAddress,
      token: network.chain.tokenAddress,
      treasury: network.chain.treasury,
    },
    demo: demo && {
      model: demo.modelId,
      account: demo.account,
      balanceBase: demo.balanceBase.toString(),
      funding: demo.funding,
      provider: demo.providerAddress,
      keyId: demo.keyId,
      apiKey: demo.apiKey,
    },
  };
  io.stdout(`${JSON.stringify(ready)}\n`);
}

async function withDeadline(work: Promise<void>, ms: number, message: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
