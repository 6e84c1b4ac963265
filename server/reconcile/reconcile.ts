import { getAddress, type Provider } from "ethers";
import type { Pool } from "pg";
import { UsageEscrow__factory } from "../../typechain-types";
import { providerChainReader } from "../chain/chainReader";
import { decodeEscrowLog, type EscrowEvent } from "../chain/escrowEvents";
import { ChainRepository } from "../persistence/chain/chainRepository";
import { VoucherRepository } from "../persistence/vouchers/voucherRepository";
import { escrowSolvency } from "./checks/escrowSolvency";
import { feeSplit } from "./checks/feeSplit";
import { ledgerUnsettled } from "./checks/ledgerUnsettled";
import { meteredUsage } from "./checks/meteredUsage";
import { mirrorMatchesEscrow } from "./checks/mirrorMatchesEscrow";
import { settledEventsMirrored } from "./checks/settledEventsMirrored";
import { usageRoots } from "./checks/usageRoots";
import { vouchersOnChain } from "./checks/vouchersOnChain";
import type { ReconcileCheck, ReconcileContext } from "./reconcileCheck";

/** In order: the database alone first, then the database against the chain, then the chain's own books. */
export const RECONCILE_CHECKS: readonly ReconcileCheck[] = [
  meteredUsage,
  usageRoots,
  vouchersOnChain,
  settledEventsMirrored,
  feeSplit,
  ledgerUnsettled,
  mirrorMatchesEscrow,
  escrowSolvency,
];

export interface ReconcileOptions {
  /** The gateway's database (`pgPoolOf(database.dataSource)`). */
  pool: Pool;
  /** Reads the escrow's chain. */
  provider: Provider;
  /** The escrow the caller trusts (ESCROW_ADDRESS or the deployments file); must be the one the database mirrors. */
  expectedEscrow?: string | null;
  /** The widest eth_getLogs range (default 2,000). */
  logBlockRange?: number;
  /** Called as each check finishes (the CLI prints as it goes). */
  onCheck?: (report: CheckReport) => void;
}

export interface CheckReport {
  name: string;
  title: string;
  status: "passed" | "failed" | "not_run";
  summary?: string;
  difference?: string;
}

export interface ReconcileReport {
  ok: boolean;
  chainId: bigint | null;
  escrow: string | null;
  /** The block the mirror and the chain were compared at (the chain watcher's cursor). */
  block: number | null;
  checks: CheckReport[];
  /** The first difference found, or null. */
  firstDifference: string | null;
}

const PRECONDITION = { name: "mirror-cursor", title: "the database mirrors this escrow on this chain, up to a block the chain still has" };

/**
 * Proves the money in the whole database against the chain: runs {@link RECONCILE_CHECKS} in order
 * and stops at the first difference. Database reads are one REPEATABLE READ snapshot, chain reads
 * are as of the chain watcher's cursor block, so it can run next to a live gateway.
 */
export async function reconcile(options: ReconcileOptions): Promise<ReconcileReport> {
  const client = await options.pool.connect();
  const reports: CheckReport[] = [];
  const report = (entry: CheckReport) => {
    reports.push(entry);
    options.onCheck?.(entry);
  };
  const finish = (partial: Omit<ReconcileReport, "checks" | "ok" | "firstDifference">): ReconcileReport => {
    const failed = reports.find((r) => r.status === "failed");
    return { ...partial, ok: !failed, checks: reports, firstDifference: failed?.difference ?? null };
  };
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const db = client as unknown as Pool;
    const chain = new ChainRepository(db);
    const vouchers = new VoucherRepository(db);
    const cursor = await chain.cursor();
    const { chainId } = await options.provider.getNetwork();
    const fail = (difference: string) => {
      report({ ...PRECONDITION, status: "failed", difference });
      for (const check of RECONCILE_CHECKS) report({ name: check.name, title: check.title, status: "not_run" });
      return finish({ chainId, escrow: cursor?.escrow ?? null, block: cursor?.blockNumber ?? null });
    };
    if (!cursor || cursor.blockHash === null) {
      return fail("the database mirrors no escrow yet: the chain watcher has not applied any block (is it running?)");
    }
    if (cursor.chainId !== chainId) {
      return fail(`the database mirrors chain ${cursor.chainId}, but the RPC serves chain ${chainId}`);
    }
    const escrowAddress = cursor.escrow.toLowerCase();
    if (options.expectedEscrow && getAddress(options.expectedEscrow).toLowerCase() !== escrowAddress) {
      return fail(`the database mirrors escrow ${escrowAddress}, but the configured escrow is ${options.expectedEscrow.toLowerCase()}`);
    }
    const block = await options.provider.getBlock(cursor.blockNumber);
    if (!block || block.hash?.toLowerCase() !== cursor.blockHash.toLowerCase()) {
      return fail(
        `the mirror's cursor block ${cursor.blockNumber} (${cursor.blockHash}) is no longer on the chain (${block?.hash ?? "no such block"}): a reorganisation the watcher has not rolled back yet; run again after its next tick`,
      );
    }
    report({
      ...PRECONDITION,
      status: "passed",
      summary: `escrow ${escrowAddress} on chain ${chainId}, mirrored up to block ${cursor.blockNumber}`,
    });

    const escrow = UsageEscrow__factory.connect(escrowAddress, options.provider);
    const feeBps = BigInt(await escrow.feeBps());
    const reader = providerChainReader(options.provider, escrowAddress, { logBlockRange: options.logBlockRange });
    let events: Promise<EscrowEvent[]> | null = null;
    const context: ReconcileContext = {
      db,
      vouchers,
      chain,
      cursor,
      provider: options.provider,
      escrow,
      escrowAddress,
      chainId,
      feeBps,
      chainEvents: () =>
        (events ??= reader
          .escrowLogs(cursor.deploymentBlock, cursor.blockNumber)
          .then((logs) => logs.flatMap((log) => decodeEscrowLog(log) ?? []))),
    };
    let failed = false;
    for (const check of RECONCILE_CHECKS) {
      if (failed) {
        report({ name: check.name, title: check.title, status: "not_run" });
        continue;
      }
      const outcome = await check.run(context);
      if (outcome.ok) report({ name: check.name, title: check.title, status: "passed", summary: outcome.summary });
      else {
        failed = true;
        report({ name: check.name, title: check.title, status: "failed", difference: outcome.difference });
      }
    }
    return finish({ chainId, escrow: escrowAddress, block: cursor.blockNumber });
  } finally {
    await client.query("ROLLBACK").catch(() => undefined);
    client.release();
  }
}
