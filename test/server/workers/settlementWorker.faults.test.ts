import { expect } from "chai";
import { JsonRpcProvider } from "ethers";
import {
  USDC,
  providerAddress,
  providerShareOf,
  startSettlementHarness,
  type SettlementHarness,
} from "./settlementHarness";

/** A provider whose node "accepts" raw transactions without ever receiving them: a crash right after recording. */
class CrashBeforeBroadcast extends JsonRpcProvider {
  override async broadcastTransaction(): Promise<never> {
    throw new Error("simulated crash before the broadcast");
  }
}

describe("workers/settlementWorker under faults (hardhat node, Postgres)", function () {
  this.timeout(60_000);
  let harness: SettlementHarness;

  before(async () => {
    harness = await startSettlementHarness();
  });

  afterEach(async () => {
    await harness.stopWorkers();
    await harness.rpc("evm_setAutomine", [true]);
  });

  after(async () => {
    await harness?.close();
  });

  it("a worker stopped between submit and confirm: the next one confirms it, nothing is paid twice", async () => {
    const { db, escrow } = harness;
    const provider = providerAddress(harness, 10);
    const payer = await harness.payer(100n * USDC);
    await harness.meter(payer, provider, [12_345_678n, 7_654_322n]); // 20 base units exactly

    await harness.rpc("evm_setAutomine", [false]);
    const crashed = await harness.startWorker();
    const sent = await crashed.tick();
    expect(sent.transactionsSent).to.equal(1);
    const [inFlight] = await db.vouchers.forPair(payer.account, provider);
    expect(inFlight.state).to.equal("submitted");
    await crashed.stop();
    await harness.rpc("evm_mine");
    await harness.rpc("evm_setAutomine", [true]);

    const restarted = await harness.startWorker();
    const report = await restarted.tick();
    expect(report.transactionsMined).to.equal(1);
    expect(report.transactionsSent).to.equal(0);
    const [voucher] = await db.vouchers.forPair(payer.account, provider);
    expect(voucher.state).to.equal("final");
    expect(voucher.paidBase).to.equal(20n);
    expect(await escrow.settledAmount(payer.account, provider)).to.equal(20n);
    expect(await escrow.earningsOf(provider)).to.equal(providerShareOf(20n));
  });

  it("a crash after recording the transaction and before sending it: the next worker sends the recorded bytes", async () => {
    const { db, escrow } = harness;
    const provider = providerAddress(harness, 11);
    const payer = await harness.payer(100n * USDC);
    await harness.meter(payer, provider, [3_000_000n]);

    const crashingProvider = new CrashBeforeBroadcast(harness.node.url, undefined, {
      cacheTimeout: -1,
      pollingInterval: 20,
    });
    const crashed = await harness.startWorker({
      provider: crashingProvider,
      submitter: harness.submitter.connect(crashingProvider),
    });
    const sent = await crashed.tick();
    expect(sent.transactionsSent).to.equal(1);
    await crashed.stop();
    crashingProvider.destroy();
    const [recorded] = await db.vouchers.forPair(payer.account, provider);
    expect(await harness.provider.getTransaction(recorded.txHash!)).to.equal(null);

    const restarted = await harness.startWorker();
    const first = await restarted.tick();
    expect(first.transactionsRebroadcast).to.equal(1);
    await restarted.tick();
    const [voucher] = await db.vouchers.forPair(payer.account, provider);
    expect(voucher.txHash).to.equal(recorded.txHash);
    expect(voucher.state).to.equal("final");
    expect(await escrow.settledAmount(payer.account, provider)).to.equal(3n);
  });

  it("a re-submission of a voucher already paid (its record lost) pays nothing: recorded as paid 0, it ends final", async () => {
    const { db, escrow } = harness;
    const provider = providerAddress(harness, 12);
    const payer = await harness.payer(100n * USDC);
    await harness.meter(payer, provider, [5_000_000n]);
    const worker = await harness.startWorker();
    await worker.tick();
    const [settled] = await db.vouchers.forPair(payer.account, provider);
    expect(settled.state).to.equal("final");
    const earnings = await escrow.earningsOf(provider);

    // As if the database had lost everything after the voucher was built.
    await db.dataSource.query("DELETE FROM voucher_settlements WHERE voucher_id = $1", [settled.id]);
    await db.dataSource.query(
      `UPDATE vouchers SET state = 'pending', tx_hash = NULL, paid_base = 0, settled_base = NULL WHERE id = $1`,
      [settled.id],
    );
    const resent = await worker.tick();
    expect(resent.transactionsSent).to.equal(1);
    const [voucher] = await db.vouchers.forPair(payer.account, provider);
    expect(voucher.txHash).to.not.equal(settled.txHash);
    expect(voucher.state).to.equal("final");
    expect(voucher.paidBase).to.equal(0n);
    expect(voucher.settledBase).to.equal(5n);
    expect(await escrow.settledAmount(payer.account, provider)).to.equal(5n);
    expect(await escrow.earningsOf(provider)).to.equal(earnings);
  });

  it("replaces a transaction stuck in the mempool with the same nonce and fees at least 12.5% higher", async () => {
    const { db, escrow } = harness;
    const provider = providerAddress(harness, 13);
    const payer = await harness.payer(100n * USDC);
    await harness.meter(payer, provider, [4_000_000n]);
    await harness.rpc("evm_setAutomine", [false]);
    const worker = await harness.startWorker({ settings: { txTimeoutMs: 200 } });

    await worker.tick();
    const [submitted] = await db.vouchers.forPair(payer.account, provider);
    const stuck = (await db.settlementTransactions.byHash(submitted.txHash!))!;
    await new Promise((wake) => setTimeout(wake, 250));
    const bumped = await worker.tick();
    expect(bumped.transactionsBumped).to.equal(1);
    const [moved] = await db.vouchers.forPair(payer.account, provider);
    const replacement = (await db.settlementTransactions.byHash(moved.txHash!))!;
    expect(replacement.hash).to.not.equal(stuck.hash);
    expect(replacement.nonce).to.equal(stuck.nonce);
    expect(replacement.replacesId).to.equal(stuck.id);
    expect(replacement.maxFeePerGas! * 10_000n >= stuck.maxFeePerGas! * 11_250n).to.equal(true);
    expect(replacement.maxPriorityFeePerGas! * 10_000n >= stuck.maxPriorityFeePerGas! * 11_250n).to.equal(true);
    expect((await db.settlementTransactions.byHash(stuck.hash))!.state).to.equal("replaced");

    await harness.rpc("evm_mine");
    await harness.rpc("evm_setAutomine", [true]);
    await worker.tick();
    const [voucher] = await db.vouchers.forPair(payer.account, provider);
    expect(voucher.state).to.equal("final");
    expect(voucher.txHash).to.equal(replacement.hash);
    expect((await db.settlementTransactions.byHash(stuck.hash))!.state).to.equal("dropped");
    expect(await harness.provider.getTransactionReceipt(stuck.hash)).to.equal(null);
    expect(await escrow.settledAmount(payer.account, provider)).to.equal(4n);
  });

  it("moves a confirmed voucher back when a reorg takes its transaction away, then settles it again", async () => {
    const { db, escrow } = harness;
    const provider = providerAddress(harness, 14);
    const payer = await harness.payer(100n * USDC);
    await harness.meter(payer, provider, [6_000_000n]);
    const worker = await harness.startWorker({ settings: { confirmations: 3 } });

    const snapshot = await harness.rpc("evm_snapshot");
    await worker.tick();
    const [confirmed] = await db.vouchers.forPair(payer.account, provider);
    expect(confirmed.state).to.equal("confirmed");
    expect(confirmed.paidBase).to.equal(6n);
    const minedIn = (await db.settlementTransactions.byHash(confirmed.txHash!))!.blockHash;

    await harness.rpc("evm_revert", [snapshot]);
    await harness.rpc("hardhat_mine", ["0x2"]); // a different chain of the same height and more
    expect(await escrow.settledAmount(payer.account, provider)).to.equal(0n);
    const reorged = await worker.tick();
    expect(reorged.transactionsReorged).to.equal(1);
    expect(reorged.transactionsRebroadcast).to.equal(1);
    const [again] = await db.vouchers.forPair(payer.account, provider);
    expect(again.state).to.equal("submitted");
    expect(again.paidBase).to.equal(0n);

    await worker.tick();
    const [remined] = await db.vouchers.forPair(payer.account, provider);
    expect(remined.state).to.equal("confirmed");
    expect((await db.settlementTransactions.byHash(remined.txHash!))!.blockHash).to.not.equal(minedIn);
    await harness.rpc("hardhat_mine", ["0x3"]);
    await worker.tick();
    const [final] = await db.vouchers.forPair(payer.account, provider);
    expect(final.state).to.equal("final");
    expect(final.paidBase).to.equal(6n);
    expect(await escrow.settledAmount(payer.account, provider)).to.equal(6n);
    expect(await escrow.earningsOf(provider)).to.equal(providerShareOf(6n));
  });
});
