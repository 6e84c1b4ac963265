import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { AmountError, parseBaseUnits } from "../money";
import { chainFromEnv, requireEscrow } from "../../providers-selfservice/chainEnv";
import { DEV_FUNDER_INDEX, devFund, LOCAL_CHAIN_ID, NotLocalChainError } from "../../providers-selfservice/devFund";
import { address } from "../arguments";
import { CliError, type CliIo } from "../io";
import { printerFor, usdc, usdcWithBase } from "../output";

/** `--usdc 10` is 10 USDC (not base units): whole or decimal, up to 6 decimals. */
function usdcAmount(raw: string): bigint {
  try {
    const amount = parseBaseUnits(/usdc$/i.test(raw.trim()) ? raw : `${raw.trim()}usdc`);
    if (amount === 0n) throw new InvalidArgumentError("Must be above 0.");
    return amount;
  } catch (error) {
    if (error instanceof AmountError) throw new InvalidArgumentError(`Not a USDC amount: ${error.reason}.`);
    throw error;
  }
}

/** `shareai dev …`: conveniences for the local Hardhat chain only. */
export function registerDevCommands(program: Command, io: CliIo): void {
  const dev = program.command("dev").description("local development helpers (the local Hardhat chain, 31337, only)");
  dev
    .command("fund")
    .description("mint test USDC and deposit it on the escrow for an account (local chain only)")
    .requiredOption("--account <0x…>", "the account (payer) to deposit for", address)
    .requiredOption("--usdc <amount>", "how many USDC to mint and deposit, e.g. 10 or 2.5", usdcAmount)
    .action(async (options: { account: string; usdc: bigint }, command: Command) => {
      const p = printerFor(io, command);
      const chain = await chainFromEnv(io.env);
      try {
        if (chain.chainId !== LOCAL_CHAIN_ID) throw new CliError(new NotLocalChainError(chain.chainId).message);
        const escrow = requireEscrow(chain);
        const result = await devFund(chain.provider, escrow, options.account, options.usdc);
        p.result(result);
        p.line(
          `Deposited ${usdcWithBase(result.amountBase)} for ${result.account} on escrow ${result.escrow} (tx ${result.txHash}), ` +
            `minted to Hardhat development account #${DEV_FUNDER_INDEX} ${result.funder}.`,
        );
        p.line(
          `Its escrow balance is now ${usdc(result.availableBase)} available${result.thawingBase > 0n ? `, ${usdc(result.thawingBase)} thawing` : ""}; ` +
            "the gateway can spend it once the chain watcher has applied the deposit.",
        );
      } finally {
        chain.close();
      }
    });
}
