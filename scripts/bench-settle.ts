/**
 * Settlement benchmark (issue 5, item 9; docs/settlement-worker.md):
 *
 *   npm run bench:settle
 *   BENCH_N=20000 BENCH_M=200 BENCH_K=10 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:settle
 *
 * Meters N requests from M users at K providers through the real Postgres ledger (reserve, then
 * commit), then lets the real settlement worker settle everything on a `hardhat node` child
 * process with the escrow deployed: it builds one cumulative voucher per (user, provider) pair,
 * signs them, submits them in batches and confirms them. Prints gas per voucher, vouchers per
 * transaction and the worker's throughput (vouchers signed per second and receipts hashed per
 * second, for the worker's build step and for the pure hashing and signing alone), then checks
 * every pair's settled amount on chain against its metered total.
 *
 * Environment:
 *   BENCH_N, BENCH_M, BENCH_K   requests, users, providers (default 5000, 50, 5)
 *   BENCH_BATCH_SIZE            vouchers per settle transaction (default 100, the escrow's maximum)
 *   DATABASE_URL                Postgres server; a database is created for the run and dropped.
 *                               Unset: an embedded Postgres in a temporary folder.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { deployEscrow } from "./lib/deployEscrow";
import { MockUSDC__factory, UsageEscrow__factory } from "../typechain-types";
import { escrowDomain, signVoucher } from "../server/chain/voucher";
import { openDatabase } from "../server/persistence";
import type { Receipt } from "../server/settlement/receipt";
import { buildUsageTree } from "../server/settlement/usageTree";
import { startSettlementWorker } from "../server/workers/settlementWorker";
import { createTestDatabase, stopTestDatabaseServer } from "../test/support/database";
import { startHardhatNode } from "../test/support/hardhatNode";

const N = Number(process.env.BENCH_N ?? 5_000);
const M = Number(process.env.BENCH_M ?? 50);
const K = Number(process.env.BENCH_K ?? 5);
const BATCH_SIZE = Number(process.env.BENCH_BATCH_SIZE ?? 100);
const USDC = 1_000_000n;
const MICROS = 1_000_000n;
const LEDGER_CONCURRENCY = 64;

/** A small deterministic PRNG (mulberry32): the same run every time. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function rate(count: number, ms: number): string {
  return ms > 0 ? Math.round((count / ms) * 1000).toLocaleString("en-US") : "∞";
}

async function main(): Promise<void> {
  for (const [name, value] of Object.entries({ BENCH_N: N, BENCH_M: M, BENCH_K: K, BENCH_BATCH_SIZE: BATCH_SIZE })) {
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive whole number`);
  }
  console.log(`bench:settle — ${N} requests, ${M} users, ${K} providers, batches of ${BATCH_SIZE}`);
  const node = await startHardhatNode();
  const provider = node.provider();
  const deploymentsDir = mkdtempSync(path.join(os.tmpdir(), "shareai-bench-settle-"));
  const testDatabase = await createTestDatabase();
  const db = await openDatabase({ databaseUrl: testDatabase.url });
  try {
    const [owner, treasury, signer, submitter] = [0, 1, 2, 3].map((i) => node.account(i, provider));
    const record = await deployEscrow(
      { deploymentsDir, treasury: treasury.address, settlementSigner: signer.address },
      owner,
      () => undefined,
    );
    const usdc = MockUSDC__factory.connect(record.usdc.address, owner);
    const escrow = UsageEscrow__factory.connect(record.escrow.address, owner);
    const random = prng(42);

    // Users: an account, a key, and a deposit on the escrow (mirrored in the ledger).
    const perUserBase = 1_000n * USDC;
    await (await usdc.mint(owner.address, perUserBase * BigInt(M))).wait();
    await (await usdc.approve(record.escrow.address, perUserBase * BigInt(M))).wait();
    const users: { account: string; keyId: string }[] = [];
    for (let u = 0; u < M; u++) {
      const account = Wallet.createRandom().address.toLowerCase();
      await (await escrow.depositFor(account, perUserBase)).wait();
      await db.accounts.setOnChainBalance(account, perUserBase, 0n);
      const { apiKey } = await db.apiKeys.create({ account, name: "bench" });
      users.push({ account, keyId: apiKey.id });
    }
    const providers = Array.from({ length: K }, () => Wallet.createRandom().address.toLowerCase());

    // Metering: N requests through the ledger, LEDGER_CONCURRENCY at a time.
    const meterStart = performance.now();
    const requests = Array.from({ length: N }, (_, n) => {
      const user = users[Math.floor(random() * M)];
      const promptTokens = 200 + Math.floor(random() * 4_000);
      const completionTokens = 20 + Math.floor(random() * 1_000);
      // $0.25 / 1M prompt, $1 / 1M completion: cost in micros, exact.
      const costMicros = BigInt(promptTokens) * 250_000n + BigInt(completionTokens) * 1_000_000n;
      return { n, user, provider: providers[Math.floor(random() * K)], promptTokens, completionTokens, costMicros };
    });
    for (let start = 0; start < N; start += LEDGER_CONCURRENCY) {
      await Promise.all(
        requests.slice(start, start + LEDGER_CONCURRENCY).map(async (r) => {
          const requestId = `bench-${r.n}`;
          const reserved = await db.ledger.reserve({
            requestId,
            account: r.user.account,
            keyId: r.user.keyId,
            modelId: "bench-model",
            amountMicros: r.costMicros,
            ttlMs: 600_000,
          });
          if (!reserved.ok) throw new Error(`reserve refused: ${reserved.refusal.reason}`);
          await db.ledger.commit({
            requestId,
            holdId: reserved.hold.id,
            account: r.user.account,
            keyId: r.user.keyId,
            modelId: "bench-model",
            providerAddress: r.provider,
            upstreamId: "00000000-0000-4000-8000-000000000001",
            usage: { promptTokens: r.promptTokens, completionTokens: r.completionTokens },
            cachedPromptTokens: 0,
            reasoningTokens: 0,
            costMicros: r.costMicros,
            estimated: false,
            outcome: "completed",
            stream: false,
            latencyMs: 1,
          });
        }),
      );
    }
    const meterMs = performance.now() - meterStart;
    console.log(`metered   ${N} requests through the ledger in ${meterMs.toFixed(0)} ms (${rate(N, meterMs)} req/s)`);

    // Settlement: the real worker, ticked until nothing is left to do.
    const worker = await startSettlementWorker({
      database: db,
      provider,
      escrowAddress: record.escrow.address,
      signer,
      submitter,
      autoTick: false,
      settings: {
        intervalMs: 0,
        thresholdBase: 1n,
        batchSize: BATCH_SIZE,
        maxBatchesPerTick: 1_000,
        confirmations: 1,
        blockTimeMs: 1_000,
      },
    });
    const settleStart = performance.now();
    let built = 0;
    let receipts = 0;
    let buildMs = 0;
    let submitMs = 0;
    for (let round = 0; round < 10; round++) {
      const report = await worker.tick();
      built += report.vouchersBuilt;
      receipts += report.receiptsLinked;
      buildMs += report.stepMs.build ?? 0;
      submitMs += report.stepMs.submit ?? 0;
      if (report.warnings.length) console.log(`warnings: ${report.warnings.join("; ")}`);
      const counts = await db.vouchers.countByState();
      if (
        report.vouchersBuilt === 0 &&
        report.transactionsSent === 0 &&
        Object.keys(counts).every((s) => s === "final")
      )
        break;
    }
    const settleMs = performance.now() - settleStart;
    await worker.stop();

    const transactions = (await db.settlementTransactions.all()).filter((tx) => tx.state === "final");
    const vouchersInTxs = transactions.reduce((sum, tx) => sum + tx.voucherIds.length, 0);
    const gasUsed = transactions.reduce((sum, tx) => sum + (tx.gasUsed ?? 0n), 0n);
    console.log(
      `vouchers  ${built} built over ${receipts} receipts (${(receipts / Math.max(built, 1)).toFixed(
        1,
      )} receipts per voucher)`,
    );
    console.log(
      `txs       ${transactions.length} settle transactions, ${(
        vouchersInTxs / Math.max(transactions.length, 1)
      ).toFixed(1)} vouchers per transaction`,
    );
    console.log(
      `gas       ${gasUsed} in total, ${(Number(gasUsed) / Math.max(vouchersInTxs, 1)).toFixed(0)} per voucher`,
    );
    console.log(
      `worker    build step ${buildMs.toFixed(0)} ms: ${rate(built, buildMs)} vouchers signed/s, ${rate(
        receipts,
        buildMs,
      )} receipts hashed/s ` + "(DB read, tree, signature, insert and link)",
    );
    console.log(
      `          submit step ${submitMs.toFixed(0)} ms; everything, metered to final, ${settleMs.toFixed(0)} ms`,
    );

    // The pure parts alone: hashing receipts into trees and signing vouchers.
    const sample: Receipt[] = requests.map((r) => ({
      requestId: `bench-${r.n}`,
      payer: r.user.account,
      provider: r.provider,
      model: "bench-model",
      promptTokens: r.promptTokens,
      completionTokens: r.completionTokens,
      costMicros: r.costMicros,
      createdAt: 1_767_225_600 + r.n,
    }));
    const hashStart = performance.now();
    const roots: string[] = [];
    for (let start = 0; start < sample.length; start += 20)
      roots.push(buildUsageTree(sample.slice(start, start + 20)).root);
    const hashMs = performance.now() - hashStart;
    const domain = escrowDomain((await provider.getNetwork()).chainId, record.escrow.address);
    const signStart = performance.now();
    for (const [i, usageRoot] of roots.entries()) {
      await signVoucher(signer, domain, {
        payer: users[0].account,
        provider: providers[0],
        cumulativeAmount: BigInt(i + 1),
        usageRoot,
      });
    }
    const signMs = performance.now() - signStart;
    console.log(
      `pure      ${rate(sample.length, hashMs)} receipts hashed/s (trees of 20), ${rate(
        roots.length,
        signMs,
      )} vouchers signed/s (EIP-712, ethers Wallet)`,
    );

    // Every pair's settled amount on chain is the floor of its metered total.
    const totals = new Map<string, bigint>();
    for (const r of requests)
      totals.set(
        `${r.user.account}:${r.provider}`,
        (totals.get(`${r.user.account}:${r.provider}`) ?? 0n) + r.costMicros,
      );
    let mismatches = 0;
    for (const [pair, total] of totals) {
      const [payer, payee] = pair.split(":");
      if ((await escrow.settledAmount(payer, payee)) !== total / MICROS) mismatches += 1;
    }
    console.log(
      `check     ${totals.size} pairs: ${
        mismatches === 0 ? "every settled amount = floor(metered total)" : `${mismatches} MISMATCHED`
      }`,
    );
    if (mismatches > 0) process.exitCode = 1;
  } finally {
    await db.close();
    await testDatabase.drop();
    await stopTestDatabaseServer();
    provider.destroy();
    await node.stop();
    rmSync(deploymentsDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
