import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { ZodError } from "zod";
import { connectEscrowReader } from "../../chain/escrowReader";
import { microsToUsdc } from "../../domain/money/usdcDecimal";
import { pgPoolOf } from "../../persistence/pgPool";
import { chainFromEnv, requireEscrow } from "../../providers-selfservice/chainEnv";
import { ReceiptBundles } from "../../receipts/receiptBundles";
import { parseReceiptBundle, receiptBundleToJson, type EscrowRef, type ReceiptBundle } from "../../settlement/receiptBundle";
import { verifyReceipt } from "../../settlement/verifyReceipt";
import type { VerifyReceiptResult } from "../../settlement/verification";
import { DEFAULT_SETTLEMENT_SETTINGS } from "../../workers/settlement/settlementSettings";
import { CliError, type CliIo } from "../io";
import { printerFor, toJson } from "../output";
import { withDatabase } from "../withDatabase";
import { writeOutput } from "../../providers-selfservice/cliOutput";
import { ExitCode } from "./start";

export function registerReceiptCommands(program: Command, io: CliIo): void {
  program
    .command("verify-receipt")
    .description("check a receipt bundle against its Merkle proof, the voucher's signature and the escrow on chain")
    .argument("<file>", "the bundle (GET /api/usage/{requestId}/receipt), or - for standard input")
    .action(async (file: string, _options, command: Command) => {
      const p = printerFor(io, command);
      const bundle = readBundle(file);
      const chain = await chainFromEnv(io.env);
      try {
        const explicit = Boolean(io.env.ESCROW_ADDRESS?.trim() || io.env.DEPLOYMENTS_FILE?.trim());
        const trusted = chain.escrowAddress;
        const escrowAddress = trusted ?? bundle.escrow.address;
        if (!trusted) {
          p.line(
            `Note: no ESCROW_ADDRESS or deployments file for chain ${chain.chainId}: checking against the escrow the bundle names, ${bundle.escrow.address}. ` +
              "Set ESCROW_ADDRESS to the escrow you trust to rule out a bundle that names a contract of its own.",
          );
        }
        let reader;
        try {
          reader = await connectEscrowReader(chain.provider, escrowAddress, { fromBlock: chain.deploymentBlock });
        } catch (error) {
          throw new CliError(`cannot read the escrow ${escrowAddress} at RPC_URL ${chain.rpcUrl}: ${(error as Error).message}`);
        }
        const result = await verifyReceipt(bundle, reader);
        const source = trusted ? (explicit ? "ESCROW_ADDRESS/DEPLOYMENTS_FILE" : chain.escrowSource) : "the bundle";
        p.result({ ...jsonResult(result), requestId: bundle.receipt.requestId, escrow: reader.escrow, escrowSource: source });
        printVerdict(p, bundle, result);
        if (!result.isValid) throw new ExitCode(1);
      } finally {
        chain.close();
      }
    });

  const receipts = program.command("receipts").description("request receipts: what a user verifies a charge with");
  receipts
    .command("get")
    .description("write a request's receipt bundle from the database (what GET /api/usage/{requestId}/receipt serves)")
    .argument("<requestId>", "the request's id (its x-request-id)")
    .option("--out <file>", "write the bundle to this file instead of standard output")
    .action(async (requestId: string, options: { out?: string }, command: Command) => {
      const p = printerFor(io, command);
      const found = await withDatabase(io, async (db) => {
        const escrow = await escrowOfDatabase(io, (await db.chain.cursor()) ?? null);
        const source = new ReceiptBundles(pgPoolOf(db.dataSource), {
          escrow,
          settlementIntervalMs: DEFAULT_SETTLEMENT_SETTINGS.intervalMs,
          settlementPollMs: DEFAULT_SETTLEMENT_SETTINGS.pollMs,
        });
        return source.lookup(requestId);
      });
      if (found.status === "not_found") throw new CliError(`no request ${requestId} in this database`);
      if (found.status === "not_vouchered") {
        throw new CliError(
          `request ${requestId} is metered but not in a voucher yet (${found.wait.expectedBy ? `due by ${found.wait.expectedBy.toISOString()}` : "its pair's new usage is below one base unit"})`,
        );
      }
      const text = `${toJson(receiptBundleToJson(found.bundle))}\n`;
      writeOutput(io, p, text, options.out, `Wrote the receipt of ${requestId} (voucher ${found.voucherState}) to ${options.out}.`);
    });
}

/** The escrow a database's vouchers are signed for: the one its chain watcher follows, else the configured one. */
export async function escrowOfDatabase(
  io: CliIo,
  cursor: { chainId: bigint; escrow: string } | null,
): Promise<EscrowRef> {
  if (cursor) return { address: cursor.escrow.toLowerCase(), chainId: cursor.chainId };
  const chain = await chainFromEnv(io.env);
  try {
    return { address: requireEscrow(chain).toLowerCase(), chainId: chain.chainId };
  } finally {
    chain.close();
  }
}

function readBundle(file: string): ReceiptBundle {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new CliError(`${file} is not JSON: ${(error as Error).message}`);
  }
  try {
    return parseReceiptBundle(json);
  } catch (error) {
    if (error instanceof ZodError) {
      const problems = error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
      throw new CliError(`${file} is not a receipt bundle: ${problems.slice(0, 3).join("; ")}`);
    }
    throw error;
  }
}

function jsonResult(result: VerifyReceiptResult) {
  return result.isValid
    ? { isValid: true, facts: result.facts }
    : { isValid: false, invalidReason: result.invalidReason, detail: result.detail, facts: result.facts };
}

function printVerdict(p: ReturnType<typeof printerFor>, bundle: ReceiptBundle, result: VerifyReceiptResult): void {
  const { receipt } = bundle;
  for (const fact of result.facts) p.line(`✓ ${fact}`);
  if (result.isValid) {
    p.line();
    p.line(
      `VALID: request ${receipt.requestId} (${microsToUsdc(receipt.costMicros)} USDC) ` +
        "is part of a signed voucher that the escrow has paid.",
    );
  } else {
    p.line(`✗ ${result.detail}`);
    p.line();
    p.line(`NOT PROVEN (${result.invalidReason}): request ${receipt.requestId}'s receipt fails the check above.`);
  }
}
