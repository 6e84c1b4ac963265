import { expect } from "chai";
import { UsageEscrow__factory } from "../../../typechain-types";
import { connectEscrowReader } from "../../../server/chain/escrowReader";
import { buildUsageTree } from "../../../server/settlement/usageTree";
import { RECEIPT_BUNDLE_FORMAT } from "../../../server/settlement/receiptBundle";
import type { Receipt } from "../../../server/settlement/receipt";
import { verifyReceipt } from "../../../server/settlement/verifyReceipt";
import type { VoucherRecord } from "../../../server/persistence/vouchers/voucherRows";
import { SettlementConfigError } from "../../../server/workers/settlement/settlementSettings";
import { startSettlementWorker } from "../../../server/workers/settlementWorker";
import type { Database } from "../../../server/persistence";
import {
  MICROS_PER_BASE,
  USDC,
  providerAddress,
  providerShareOf,
  startSettlementHarness,
  type SettlementHarness,
} from "./settlementHarness";

/** The receipts of a voucher, read back from the usage records it links. */
async function receiptsOf(db: Database, voucherId: number): Promise<Receipt[]> {
  const rows = await db.dataSource.query(
    `SELECT request_id, account, provider_address, model_id, prompt_tokens, completion_tokens, cost_micros,
            floor(extract(epoch FROM created_at))::bigint AS created_at
     FROM usage_records WHERE voucher_id = $1`,
    [voucherId],
  );
  return rows.map((row: Record<string, string | number>) => ({
    requestId: row.request_id as string,
    payer: row.account as string,
    provider: row.provider_address as string,
    model: row.model_id as string,
    promptTokens: row.prompt_tokens as number,
    completionTokens: row.completion_tokens as number,
    costMicros: BigInt(row.cost_micros),
    createdAt: Number(row.created_at),
  }));
}

async function meteredTotal(db: Database, payer: string, provider: string): Promise<bigint> {
  const [row] = await db.dataSource.query(
    "SELECT COALESCE(sum(cost_micros), 0) AS total FROM usage_records WHERE account = $1 AND provider_address = $2",
    [payer, provider],
  );
  return BigInt(row.total);
}

describe("workers/settlementWorker (hardhat node, Postgres)", function () {
  this.timeout(60_000);
  let harness: SettlementHarness;

  before(async () => {
    harness = await startSettlementHarness();
  });

  afterEach(async () => {
    await harness.stopWorkers();
  });

  after(async () => {
    await harness?.close();
  });

  it("builds cumulative vouchers (floor, carry, root over the new receipts) and settles them on chain", async () => {
    const { db, escrow } = harness;
    const [alice, bob] = [await harness.payer(100n * USDC), await harness.payer(100n * USDC)];
    const [p1, p2] = [providerAddress(harness, 10), providerAddress(harness, 11)];
    await harness.meter(alice, p1, [875_500_000n, 750_000n]); // 876.25 base units
    await harness.meter(alice, p2, [2_400_000n]);
    await harness.meter(bob, p1, [1_999_999n, 1n, 3_000_001n]); // 5.000001
    const worker = await harness.startWorker();

    const report = await worker.tick();
    expect(report.leader).to.equal(true);
    expect(report.vouchersBuilt).to.equal(3);
    expect(report.receiptsLinked).to.equal(6);
    expect(report.transactionsSent).to.equal(1);
    expect(report.transactionsFinal).to.equal(1);

    for (const [payer, provider] of [
      [alice.account, p1],
      [alice.account, p2],
      [bob.account, p1],
    ]) {
      const [voucher] = await db.vouchers.forPair(payer, provider);
      const total = await meteredTotal(db, payer, provider);
      expect(voucher.totalMicros).to.equal(total);
      expect(voucher.cumulativeAmountBase).to.equal(total / MICROS_PER_BASE);
      expect(voucher.carriedMicros).to.equal(total % MICROS_PER_BASE);
      expect(voucher.usageRoot).to.equal(buildUsageTree(await receiptsOf(db, voucher.id)).root);
      expect(voucher.state).to.equal("final");
      expect(voucher.paidBase).to.equal(voucher.cumulativeAmountBase);
      expect(await escrow.settledAmount(payer, provider)).to.equal(voucher.cumulativeAmountBase);
    }
    expect(await escrow.earningsOf(p1)).to.equal(providerShareOf(876n) + providerShareOf(5n));
    expect(await escrow.earningsOf(p2)).to.equal(providerShareOf(2n));
    expect(await escrow.earningsOf(harness.treasury.address)).to.equal(876n / 10n + 5n / 10n + 2n / 10n);

    // Next round: the carry joins the new usage; the root covers only the new receipts.
    const newIds = await harness.meter(alice, p1, [250_000n]); // 876.5: would add nothing
    let next = await worker.tick();
    expect(next.vouchersBuilt).to.equal(0);
    const more = await harness.meter(alice, p1, [500_000n]); // 877.0
    next = await worker.tick();
    expect(next.vouchersBuilt).to.equal(1);
    const vouchers = await db.vouchers.forPair(alice.account, p1);
    expect(vouchers.map((v) => v.cumulativeAmountBase)).to.deep.equal([876n, 877n]);
    expect(vouchers[1].carriedMicros).to.equal(0n);
    expect(vouchers[1].receiptCount).to.equal(2);
    expect((await db.vouchers.requestIdsOf(vouchers[1].id)).sort()).to.deep.equal([...newIds, ...more].sort());
    expect(vouchers[1].state).to.equal("final");
    expect(await escrow.settledAmount(alice.account, p1)).to.equal(877n);
    expect((await db.vouchers.forRequest(newIds[0]))?.id).to.equal(vouchers[1].id);
    const latest = await db.vouchers.latestForProvider(p1);
    expect(latest.map((v) => [v.payer, v.cumulativeAmountBase])).to.have.deep.members([
      [alice.account, 877n],
      [bob.account, 5n],
    ]);
    const [settlement] = await db.vouchers.settlementsOf(vouchers[1].id);
    expect(settlement).to.include({ txHash: vouchers[1].txHash, paidBase: 1n, settledAfterBase: 877n });

    // A receipt of the settled voucher verifies against the chain.
    const receipts = await receiptsOf(db, vouchers[1].id);
    const tree = buildUsageTree(receipts);
    const chain = await connectEscrowReader(harness.provider, harness.escrowAddress);
    const tx = await db.settlementTransactions.byHash(vouchers[1].txHash!);
    const verdict = await verifyReceipt(
      {
        format: RECEIPT_BUNDLE_FORMAT,
        receipt: receipts[0],
        proof: tree.proofOf(receipts[0].requestId),
        receiptCount: tree.size,
        voucher: {
          payer: vouchers[1].payer,
          provider: vouchers[1].provider,
          cumulativeAmount: vouchers[1].cumulativeAmountBase,
          usageRoot: vouchers[1].usageRoot,
        },
        signature: vouchers[1].signature,
        signer: vouchers[1].signer,
        escrow: chain.escrow,
        settlement: { txHash: tx!.hash, blockNumber: tx!.blockNumber! },
      },
      chain,
    );
    expect(verdict.isValid, JSON.stringify(verdict)).to.equal(true);
  });

  it("builds a pair early at the threshold and the others once their oldest receipt is an interval old", async () => {
    const { db } = harness;
    let now = new Date();
    const worker = await harness.startWorker({
      clock: () => now,
      settings: { intervalMs: 3_600_000, thresholdBase: 5n },
    });
    const payer = await harness.payer(100n * USDC);
    const [big, small] = [providerAddress(harness, 12), providerAddress(harness, 13)];
    await harness.meter(payer, big, [6_000_000n]);
    await harness.meter(payer, small, [2_000_000n]);

    const first = await worker.tick();
    expect(first.vouchersBuilt).to.equal(1);
    expect((await db.vouchers.forPair(payer.account, big))[0].cumulativeAmountBase).to.equal(6n);
    expect(await db.vouchers.forPair(payer.account, small)).to.deep.equal([]);

    now = new Date(Date.now() + 3_601_000);
    const later = await worker.tick();
    expect(later.vouchersBuilt).to.equal(1);
    expect((await db.vouchers.forPair(payer.account, small))[0].state).to.equal("final");
    await worker.stop();
  });

  it("records a short deposit's partial payment, stops the account, and collects the rest after a top-up", async () => {
    const { db, escrow } = harness;
    const provider = providerAddress(harness, 14);
    // The mirror says 100 USDC (a stale mirror, or a withdrawal it has not seen); the escrow holds 1.
    const payer = await harness.payer(1n * USDC, 100n * USDC);
    await harness.meter(payer, provider, [2_500_000n * MICROS_PER_BASE]); // 2.5 USDC
    const worker = await harness.startWorker();

    await worker.tick();
    const [voucher] = await db.vouchers.forPair(payer.account, provider);
    expect(voucher.cumulativeAmountBase).to.equal(2_500_000n);
    expect(voucher.paidBase).to.equal(1n * USDC);
    expect(voucher.settledBase).to.equal(1n * USDC);
    expect(voucher.state).to.equal("confirmed");
    expect(await escrow.settledAmount(payer.account, provider)).to.equal(1n * USDC);
    const shortfall = await db.vouchers.shortfalls();
    expect(shortfall).to.deep.include({ account: payer.account, shortfallBase: 1_500_000n });

    // Stopped: the reserve refuses, although the mirror still shows money.
    const refused = await db.ledger.reserve({
      requestId: "after-shortfall",
      account: payer.account,
      keyId: payer.key.id,
      modelId: "test-model",
      amountMicros: 1n,
      ttlMs: 60_000,
    });
    expect(refused.ok).to.equal(false);
    if (!refused.ok) expect(refused.refusal.reason).to.equal("insufficient_balance");

    // Nothing to collect while the escrow holds nothing of the payer.
    const idle = await worker.tick();
    expect(idle.vouchersRequeued).to.equal(0);
    expect(idle.transactionsSent).to.equal(0);

    await harness.deposit(payer.account, 5n * USDC);
    const collect = await worker.tick();
    expect(collect.vouchersRequeued).to.equal(1);
    expect(collect.transactionsSent).to.equal(1);
    const [paid] = await db.vouchers.forPair(payer.account, provider);
    expect(paid.paidBase).to.equal(2_500_000n);
    expect(paid.state).to.equal("final");
    expect(await escrow.settledAmount(payer.account, provider)).to.equal(2_500_000n);
    expect(await escrow.earningsOf(provider)).to.equal(providerShareOf(1n * USDC) + providerShareOf(1_500_000n));
    expect((await db.vouchers.shortfalls()).map((s) => s.account)).to.not.include(payer.account);
    const allowed = await db.ledger.reserve({
      requestId: "after-top-up",
      account: payer.account,
      keyId: payer.key.id,
      modelId: "test-model",
      amountMicros: 1n,
      ttlMs: 60_000,
    });
    expect(allowed.ok).to.equal(true);
    await worker.stop();
  });

  it("reserves (one by one and grouped) are refused while the account has a settlement shortfall", async () => {
    const { db } = harness;
    const payer = await harness.payer(0n, 100n * USDC);
    await db.dataSource.query("UPDATE account_balances SET settlement_shortfall_base = 1 WHERE account = $1", [
      payer.account,
    ]);
    const attempts = await Promise.all(
      Array.from({ length: 8 }, (_, n) =>
        db.ledger.reserve({
          requestId: `shortfall-${n}-${payer.account}`,
          account: payer.account,
          keyId: payer.key.id,
          modelId: "test-model",
          amountMicros: 1_000n,
          ttlMs: 60_000,
        }),
      ),
    );
    expect(attempts.every((attempt) => !attempt.ok)).to.equal(true);
    await db.dataSource.query("UPDATE account_balances SET settlement_shortfall_base = 0 WHERE account = $1", [
      payer.account,
    ]);
    const after = await db.ledger.reserve({
      requestId: `shortfall-cleared-${payer.account}`,
      account: payer.account,
      keyId: payer.key.id,
      modelId: "test-model",
      amountMicros: 1_000n,
      ttlMs: 60_000,
    });
    expect(after.ok).to.equal(true);
  });

  it("acts on one of two instances only, and the other takes over when it stops", async () => {
    const other = await harness.openInstance();
    const provider = providerAddress(harness, 15);
    const payer = await harness.payer(100n * USDC);
    await harness.meter(payer, provider, [3_000_000n, 4_000_000n]);
    const first = await harness.startWorker();
    const second = await harness.startWorker({ database: other });

    const reports = await Promise.all([first.tick(), second.tick(), first.tick(), second.tick()]);
    expect(reports[0].leader).to.equal(reports[2].leader);
    expect(reports[1].leader).to.equal(reports[3].leader);
    expect(reports[0].leader).to.not.equal(reports[1].leader);
    expect(reports.reduce((sum, report) => sum + report.vouchersBuilt, 0)).to.equal(1);
    expect(first.status().leader !== second.status().leader).to.equal(true);
    const [voucher] = await harness.db.vouchers.forPair(payer.account, provider);
    expect(voucher.state).to.equal("final");
    expect(await harness.escrow.settledAmount(payer.account, provider)).to.equal(7n);

    const [leader, follower] = first.status().leader ? [first, second] : [second, first];
    await leader.stop();
    await harness.meter(payer, provider, [1_000_000n]);
    const takeover = await follower.tick();
    expect(takeover.leader).to.equal(true);
    expect(takeover.vouchersBuilt).to.equal(1);
    expect(await harness.escrow.settledAmount(payer.account, provider)).to.equal(8n);
    await follower.stop();
  });

  it("refuses to start when the escrow's thawing period does not outlast the interval plus confirmations", async () => {
    const escrow = await (
      await new UsageEscrow__factory(harness.owner).deploy(
        await harness.usdc.getAddress(),
        harness.owner.address,
        harness.treasury.address,
        1000,
        600n,
      )
    ).waitForDeployment();
    const escrowAddress = await escrow.getAddress();
    const start = (intervalMs: number) =>
      startSettlementWorker({
        database: harness.db,
        provider: harness.provider,
        escrowAddress,
        signer: harness.signer,
        submitter: harness.submitter,
        autoTick: false,
        settings: { intervalMs, pollMs: 10_000, confirmations: 5, blockTimeMs: 2_000 },
      });
    let refused: unknown;
    try {
      await start(580_000); // 580 + 10 + 5 × 2 = 600 s: not shorter than 600 s
    } catch (error) {
      refused = error;
    }
    expect(refused).to.be.instanceOf(SettlementConfigError);
    expect((refused as Error).message).to.match(/thawing period \(600 s\) must be longer than/);
    const accepted = await start(579_000);
    await accepted.stop();
  });

  it("re-signs unsettled vouchers with the current signer after the old one is revoked, and settles them", async () => {
    const { db, escrow } = harness;
    const provider = providerAddress(harness, 16);
    const payer = await harness.payer(100n * USDC);
    await harness.meter(payer, provider, [9_000_000n]);
    // The old signer signs and submits; its transaction is dropped before anything mines it.
    await harness.rpc("evm_setAutomine", [false]);
    const oldWorker = await harness.startWorker();
    let dropped: VoucherRecord;
    try {
      const sent = await oldWorker.tick();
      expect(sent.transactionsSent).to.equal(1);
      [dropped] = await db.vouchers.forPair(payer.account, provider);
      expect(dropped.state).to.equal("submitted");
      await harness.rpc("hardhat_dropTransaction", [dropped.txHash]);
      await oldWorker.stop();
    } finally {
      await harness.rpc("evm_setAutomine", [true]);
    }
    const newSigner = harness.node.account(5);
    await (await escrow.authorizeSigner(newSigner.address)).wait();
    await (await escrow.revokeSigner(harness.signer.address)).wait();

    const worker = await harness.startWorker({ signer: newSigner });
    for (let n = 0; n < 4; n++) await worker.tick();
    const [voucher] = await db.vouchers.forPair(payer.account, provider);
    expect(voucher.id).to.equal(dropped!.id);
    expect(voucher.signer).to.equal(newSigner.address.toLowerCase());
    expect(voucher.signature).to.not.equal(dropped!.signature);
    expect(voucher.state).to.equal("final");
    expect(await escrow.settledAmount(payer.account, provider)).to.equal(9n);
    const txs = (await db.settlementTransactions.all()).filter((tx) => tx.voucherIds.includes(voucher.id));
    expect(txs.map((tx) => tx.state)).to.include("failed");
    await worker.stop();

    // A worker whose own key is revoked refuses to sign anything.
    const stale = await harness.startWorker();
    let error: unknown;
    try {
      await stale.tick();
    } catch (caught) {
      error = caught;
    }
    expect((error as Error)?.message).to.match(/is not authorised on the escrow/);
    expect(stale.status().lastError?.message).to.match(/not authorised/);
    await (await escrow.authorizeSigner(harness.signer.address)).wait();
  });
});
