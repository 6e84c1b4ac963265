import type { Command } from "commander";
import { pgPoolOf } from "../../persistence/pgPool";
import { chainFromEnv } from "../../providers-selfservice/chainEnv";
import { reconcile, type CheckReport } from "../../reconcile/reconcile";
import type { CliIo } from "../io";
import { printerFor } from "../output";
import { withDatabase } from "../withDatabase";
import { ExitCode } from "./start";

/** `shareai reconcile`: every money invariant of the database, checked against the chain. */
export function registerReconcileCommand(program: Command, io: CliIo): void {
  program
    .command("reconcile")
    .description("prove the database's money against the chain; exits 1 with the first difference")
    .action(async (_options, command: Command) => {
      const p = printerFor(io, command);
      const chain = await chainFromEnv(io.env);
      try {
        // Only an escrow named on purpose is cross-checked; a stale deployments/ file is not a difference.
        const explicit = io.env.ESCROW_ADDRESS?.trim() || (io.env.DEPLOYMENTS_FILE?.trim() ? chain.escrowAddress : null);
        const report = await withDatabase(io, (db) =>
          reconcile({
            pool: pgPoolOf(db.dataSource),
            provider: chain.provider,
            expectedEscrow: explicit || null,
            onCheck: (check) => p.line(describe(check)),
          }),
        );
        p.result(report);
        p.line();
        p.line(
          report.ok
            ? `Reconciled: the database's money matches escrow ${report.escrow} on chain ${report.chainId} at block ${report.block}.`
            : `NOT reconciled. First difference: ${report.firstDifference}`,
        );
        if (!report.ok) throw new ExitCode(1);
      } finally {
        chain.close();
      }
    });
}

function describe(check: CheckReport): string {
  if (check.status === "passed") return `✓ ${check.title}\n    ${check.summary}`;
  if (check.status === "failed") return `✗ ${check.title}\n    ${check.difference}`;
  return `· ${check.title} (not run)`;
}
