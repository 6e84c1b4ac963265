import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { ZodError } from "zod";
import { UsageEscrow__factory } from "../../../typechain-types";
import { normalizeAddress } from "../../persistence/address";
import { chainFromEnv, requireEscrow, walletFromEnv, type ChainAccess } from "../../providers-selfservice/chainEnv";
import { claimEarnings, type ClaimOutcome } from "../../providers-selfservice/claimEarnings";
import { writeOutput } from "../../providers-selfservice/cliOutput";
import { MAX_SETTLE_BATCH, settleVouchers, type SettleOutcome } from "../../providers-selfservice/settleVouchers";
import {
  parseProviderVouchers,
  providerVouchersOf,
  providerVouchersToJson,
  type ProviderVouchers,
} from "../../providers-selfservice/voucherFile";
import { address, positiveInteger } from "../arguments";
import { CliError, type CliIo } from "../io";
import { printerFor, toJson, usdc, type Printer } from "../output";
import { withDatabase } from "../withDatabase";
import { escrowOfDatabase } from "./receipts";
import { ExitCode } from "./start";

/**
 * `shareai provider …`: what a provider needs to be paid without the gateway. Export its latest
 * signed vouchers (from the database, or a gateway's API), submit them to the escrow with its own
 * key, claim its earnings. Keys are read only from the environment variable `--key-env` names.
 */
export function registerProviderSelfServiceCommands(program: Command, io: CliIo): void {
  const provider = program
    .command("provider")
    .description("provider self-service: export signed vouchers, settle them with your own key, claim earnings");

  provider
    .command("vouchers")
    .description("export the provider's latest signed voucher per payer (from the database, or a gateway with --from-url)")
    .requiredOption("--address <0x…>", "the provider's payout address", address)
    .option("--out <file>", "write the vouchers to this file instead of standard output")
    .option("--from-url <url>", "read them from a gateway's GET /api/providers/{address}/vouchers instead of the database")
    .action(async (options: { address: string; out?: string; fromUrl?: string }, command: Command) => {
      const p = printerFor(io, command);
      const file = options.fromUrl
        ? await vouchersFromUrl(options.fromUrl, options.address)
        : await withDatabase(io, async (db) =>
            providerVouchersOf(
              options.address,
              await escrowOfDatabase(io, await db.chain.cursor()).catch(() => null),
              await db.vouchers.latestForProvider(options.address),
            ),
          );
      const total = file.vouchers.reduce((sum, entry) => sum + entry.voucher.cumulativeAmount, 0n);
      writeOutput(
        io,
        p,
        `${toJson(providerVouchersToJson(file))}\n`,
        options.out,
        `Wrote ${file.vouchers.length} signed voucher${file.vouchers.length === 1 ? "" : "s"} of ${file.provider} ` +
          `(cumulative ${usdc(total)} over ${file.vouchers.length} payers) to ${options.out}.\n` +
          `Settle them with: shareai provider settle --vouchers ${options.out} --key-env PROVIDER_KEY`,
      );
    });

  provider
    .command("settle")
    .description("submit exported vouchers to the escrow with your own key (skips what is already settled)")
    .requiredOption("--vouchers <file>", "a file written by `shareai provider vouchers`")
    .option("--key-env <NAME>", "the environment variable holding the sending key (pays the gas)", "PROVIDER_KEY")
    .option("--batch-size <n>", `vouchers per transaction (at most ${MAX_SETTLE_BATCH})`, (raw) => positiveInteger(raw, MAX_SETTLE_BATCH), MAX_SETTLE_BATCH)
    .action(async (options: { vouchers: string; keyEnv: string; batchSize: number }, command: Command) => {
      const p = printerFor(io, command);
      const file = readVoucherFile(options.vouchers);
      const chain = await chainFromEnv(io.env);
      try {
        const escrowAddress = escrowForFile(p, chain, file);
        const wallet = walletFromEnv(io.env, options.keyEnv, chain);
        const escrow = UsageEscrow__factory.connect(escrowAddress, wallet);
        p.line(`Settling ${file.vouchers.length} voucher(s) on escrow ${escrowAddress} (chain ${chain.chainId}), sent by ${wallet.address}.`);
        const outcomes = await settleVouchers({
          escrow,
          chainId: chain.chainId,
          vouchers: file.vouchers,
          batchSize: options.batchSize,
          log: (line) => p.line(line),
        });
        printSettlement(p, outcomes);
        if (outcomes.some((o) => o.status === "bad_signature")) throw new ExitCode(1);
      } finally {
        chain.close();
      }
    });

  provider
    .command("claim")
    .description("claim the provider's earnings from the escrow with its own key")
    .option("--key-env <NAME>", "the environment variable holding the provider's payout key", "PROVIDER_KEY")
    .option("--to <0x…>", "where to send the earnings (default: the payout address itself)", address)
    .action(async (options: { keyEnv: string; to?: string }, command: Command) => {
      await runClaim(io, printerFor(io, command), options, "provider");
    });
}

/** `provider claim` and `treasury claim`: the escrow's `claim(to)` from the key's own earnings. */
export async function runClaim(
  io: CliIo,
  p: Printer,
  options: { keyEnv: string; to?: string },
  role: "provider" | "treasury",
): Promise<ClaimOutcome> {
  const chain = await chainFromEnv(io.env);
  try {
    const escrowAddress = requireEscrow(chain);
    const wallet = walletFromEnv(io.env, options.keyEnv, chain);
    const escrow = UsageEscrow__factory.connect(escrowAddress, wallet);
    if (role === "treasury") {
      const treasury = (await escrow.treasury()).toLowerCase();
      if (treasury !== wallet.address.toLowerCase()) {
        p.line(
          `Note: ${wallet.address} is not the escrow's current treasury (${treasury}); it can still claim fees accrued while it was.`,
        );
      }
    }
    const outcome = await claimEarnings(escrow, wallet.address, options.to);
    p.result(outcome);
    if (outcome.amount === 0n) {
      p.line(`Nothing to claim: ${outcome.payee} has no unclaimed earnings on escrow ${escrowAddress}.`);
    } else {
      p.line(`Claimed ${usdc(outcome.amount)} (${outcome.amount} base units) for ${outcome.payee} to ${outcome.to} in tx ${outcome.txHash} (block ${outcome.blockNumber}).`);
    }
    return outcome;
  } finally {
    chain.close();
  }
}

function printSettlement(p: Printer, outcomes: readonly SettleOutcome[]): void {
  p.result(outcomes);
  p.table(
    ["payer", "voucher", "status", "paid", "provider share", "fee", "settled now", "tx"],
    outcomes.map((o) => [
      o.payer,
      o.cumulativeAmount.toString(),
      o.reason ? `${o.status} (${o.reason})` : o.status,
      o.paid.toString(),
      o.providerShare.toString(),
      o.fee.toString(),
      o.settledAfter.toString(),
      o.txHash ?? "-",
    ]),
    "No vouchers in the file.",
  );
  const paid = outcomes.reduce((sum, o) => sum + o.paid, 0n);
  const share = outcomes.reduce((sum, o) => sum + o.providerShare, 0n);
  const count = (status: SettleOutcome["status"]) => outcomes.filter((o) => o.status === status).length;
  p.line();
  p.line(
    `Paid ${usdc(paid)} in total (${paid} base units; provider share ${share}). ` +
      `${count("paid")} paid, ${count("already_settled")} already settled, ${count("not_paid")} not paid (empty deposit), ` +
      `${count("bad_signature")} refused (signature).`,
  );
  if (share > 0n) p.line("Claim the earnings with: shareai provider claim --key-env PROVIDER_KEY");
}

/** The escrow to settle on: the configured one (it must be the file's), else the file's. */
function escrowForFile(p: Printer, chain: ChainAccess, file: ProviderVouchers): string {
  if (file.escrow && file.escrow.chainId !== chain.chainId) {
    throw new CliError(`the vouchers are signed for chain ${file.escrow.chainId}, but RPC_URL serves chain ${chain.chainId}`);
  }
  if (chain.escrowAddress) {
    if (file.escrow && file.escrow.address !== chain.escrowAddress.toLowerCase()) {
      throw new CliError(
        `the vouchers are signed for escrow ${file.escrow.address}, but the configured escrow is ${chain.escrowAddress} (${chain.escrowSource})`,
      );
    }
    return chain.escrowAddress;
  }
  if (!file.escrow) return requireEscrow(chain);
  p.line(`Note: no ESCROW_ADDRESS or deployments file; using the escrow the vouchers name, ${file.escrow.address}.`);
  return file.escrow.address;
}

function readVoucherFile(path: string): ProviderVouchers {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path === "-" ? 0 : path, "utf8"));
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`);
  }
  return parseVouchers(json, path);
}

function parseVouchers(json: unknown, source: string): ProviderVouchers {
  try {
    return parseProviderVouchers(json);
  } catch (error) {
    if (error instanceof ZodError) {
      const problems = error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
      throw new CliError(`${source} is not a provider voucher export: ${problems.slice(0, 3).join("; ")}`);
    }
    throw error;
  }
}

/** GET a gateway's voucher export; `url` may be the gateway's base URL (with or without /v1) or the full endpoint. */
async function vouchersFromUrl(url: string, provider: string): Promise<ProviderVouchers> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new CliError(`--from-url ${url} is not a URL`);
  }
  if (!/\/vouchers\/?$/.test(target.pathname)) {
    const base = target.pathname.replace(/\/+$/, "").replace(/\/v1$/, "");
    target.pathname = `${base}/api/providers/${provider}/vouchers`;
  }
  let response: Response;
  try {
    response = await fetch(target, { headers: { accept: "application/json" } });
  } catch (error) {
    throw new CliError(`cannot reach ${target.href}: ${(error as Error).message}`);
  }
  const text = await response.text();
  if (!response.ok) throw new CliError(`${target.href} answered ${response.status}: ${text.slice(0, 300)}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`${target.href} did not answer JSON`);
  }
  const file = parseVouchers(json, target.href);
  if (file.provider !== normalizeAddress(provider)) {
    throw new CliError(`${target.href} returned the vouchers of ${file.provider}, not of ${provider}`);
  }
  return file;
}
