import { Option, type Command } from "commander";
import pino from "pino";
import { loadConfig, type GatewayConfig } from "../../config";
import { describeDatabase } from "../../main/gatewayDatabase";
import { startLocalNetwork, type LocalNetwork } from "../../main/localNetwork";
import type { CliIo } from "../io";
import { listenForShutdown } from "../shutdownSignals";
import { startBanner } from "../startBanner";
import { canSupervise, runSupervised } from "../supervise";

/** How long stopping may take beyond the requests' grace period before the process gives up on it. */
const STOP_MARGIN_MS = 30_000;

interface StartOptions {
  demo: boolean;
  inProcess?: boolean;
}

export function registerStartCommand(program: Command, io: CliIo): void {
  program
    .command("start")
    .description(
      "run the gateway until Ctrl-C: embedded Postgres unless DATABASE_URL is set, and a demo upstream when no provider is configured",
    )
    .option("--no-demo", "never start the built-in demo upstream")
    .addOption(new Option("--in-process", "run here rather than in a process group of its own (internal)").hideHelp())
    .action(async (options: StartOptions, command: Command) => {
      const json = command.optsWithGlobals().json === true;
      const config = loadConfig(io.env);
      // The embedded Postgres is our child process: keep a terminal's Ctrl-C away from it (see supervise.ts).
      if (!options.inProcess && !config.databaseUrl && canSupervise()) {
        const argv = ["start", "--in-process", ...(options.demo ? [] : ["--no-demo"]), ...(json ? ["--json"] : [])];
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
    network = await startLocalNetwork(config, { logger, demo: options.demo });
  } catch (error) {
    signals.dispose();
    throw error;
  }
  signals.takeOver();
  printReady(io, network, config, json);

  const signal = await signals.received;
  logger.info({ signal }, "stopping: draining requests in flight, then closing the database");
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
    demo: demo && {
      model: demo.modelId,
      account: demo.account,
      balanceBase: demo.balanceBase.toString(),
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
