import type { Command } from "commander";
import { address } from "../arguments";
import type { CliIo } from "../io";
import { printerFor } from "../output";
import { runClaim } from "./provider";

/** `shareai treasury claim`: the platform's fees, claimed like a provider's earnings. */
export function registerTreasuryCommands(program: Command, io: CliIo): void {
  const treasury = program.command("treasury").description("the platform treasury: claim the fees the escrow accrued to it");
  treasury
    .command("claim")
    .description("claim the treasury's accrued fees from the escrow with the treasury's key")
    .option("--key-env <NAME>", "the environment variable holding the treasury's key", "TREASURY_KEY")
    .option("--to <0x…>", "where to send the fees (default: the treasury address itself)", address)
    .action(async (options: { keyEnv: string; to?: string }, command: Command) => {
      await runClaim(io, printerFor(io, command), options, "treasury");
    });
}
