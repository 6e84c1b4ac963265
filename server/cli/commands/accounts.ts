import type { Command } from "commander";
import type { AccountBalance } from "../../persistence";
import { address, amountArgument } from "../arguments";
import { CliError, type CliIo } from "../io";
import { dateText, microsAsUsdc, printerFor, usdc, usdcWithBase, type Printer } from "../output";
import { withDatabase } from "../withDatabase";
import { keyRows, KEY_HEADERS } from "./keys";

/** Until the chain watcher exists, balances are what this tool writes; afterwards the chain's events overwrite them. */
const PRE_WATCHER_NOTE =
  "Written to the ledger's mirror of the escrow. No chain was touched: until the chain watcher runs, this is how balances are set; once it runs, the chain's events overwrite them.";

export function registerAccountCommands(program: Command, io: CliIo): void {
  const out = (command: Command) => printerFor(io, command);
  const accounts = program.command("accounts").description("accounts (an Ethereum address each) and their balances");

  accounts
    .command("list")
    .description("every account with its balance")
    .action(async (_options, command: Command) => {
      const balances = await withDatabase(io, async (db) => {
        const list = await db.accounts.list();
        return Promise.all(list.map(async (account) => (await db.accounts.getBalance(account.address))!));
      });
      const p = out(command);
      p.table(
        ["ACCOUNT", "AVAILABLE", "THAWING", "UNSETTLED", "HELD", "SPENDABLE"],
        balances.map((b) => [
          b.account,
          usdc(b.onchainAvailableBase),
          usdc(b.onchainThawingBase),
          microsAsUsdc(b.unsettledMicros),
          microsAsUsdc(b.heldMicros),
          microsAsUsdc(b.spendableMicros),
        ]),
        "No accounts yet. An account appears with its first key or balance.",
      );
      p.result(balances);
    });

  accounts
    .command("show")
    .description("one account: its balance, how it is made up, and its keys")
    .argument("<address>", "the account's Ethereum address", address)
    .action(async (account: string, _options, command: Command) => {
      const { balance, keys } = await withDatabase(io, async (db) => ({
        balance: await db.accounts.getBalance(account),
        keys: await db.apiKeys.list(account),
      }));
      if (!balance) throw new CliError(`no account ${account} (see: shareai accounts list)`);
      const p = out(command);
      printBalance(p, balance);
      p.line();
      p.line("Keys:");
      p.table(KEY_HEADERS, keyRows(keys), "  (none)");
      p.result({ ...balance, keys });
    });

  accounts
    .command("set-balance")
    .description("set an account's on-chain balance mirror by hand: the tool for before the chain watcher exists")
    .argument("<address>", "the account's Ethereum address (created if new)", address)
    .requiredOption("--available <amount>", "the escrow's `available`: base units, or USDC like 10.5", amountArgument)
    .option("--thawing <amount>", "the escrow's `thawing` (default: unchanged, 0 for a new account)", amountArgument)
    .action(async (account: string, options: { available: bigint; thawing?: bigint }, command: Command) => {
      const balance = await withDatabase(io, async (db) => {
        const thawing = options.thawing ?? (await db.accounts.getBalance(account))?.onchainThawingBase ?? 0n;
        return db.accounts.setOnChainBalance(account, options.available, thawing);
      });
      const p = out(command);
      printBalance(p, balance);
      p.line();
      p.line(PRE_WATCHER_NOTE);
      p.result(balance);
    });
}

export function printBalance(p: Printer, balance: AccountBalance): void {
  p.line(`Account ${balance.account}`);
  p.line(`  available (on-chain)  ${usdcWithBase(balance.onchainAvailableBase)}`);
  p.line(`  thawing (on-chain)    ${usdcWithBase(balance.onchainThawingBase)}  (not spendable)`);
  p.line(`  unsettled usage       ${microsAsUsdc(balance.unsettledMicros)}`);
  p.line(`  held by requests      ${microsAsUsdc(balance.heldMicros)}`);
  p.line(`  spendable             ${microsAsUsdc(balance.spendableMicros)}`);
  p.line(`  updated               ${dateText(balance.updatedAt)}`);
}
