import { expect } from "chai";
import { pgPoolOf } from "../../../server/persistence/pgPool";
import { reconcile } from "../../../server/reconcile/reconcile";
import { UsageEscrow__factory } from "../../../typechain-types";
import { startChainWatcher, type ChainWatcher } from "../../../server/workers/chainWatcher";
import { runShareai } from "../cli/support/runInProcess";
import { providerAddress, startSettlementHarness, USDC, type SettlementHarness } from "../workers/settlementHarness";

/**
 * `shareai reconcile` on a whole system (ledger, settlement worker, chain watcher, escrow): passes
 * when healthy, and names the first difference when one thing is corrupted.
 */
describe("reconcile: the database's money against the chain (hardhat node, Postgres)", function () {
  this.timeout(60_000);
  let harness: SettlementHarness;
  let watcher: ChainWatcher;
  let env: Record<string, string>;
  const run = () => reconcile({ pool: pgPoolOf(harness.db.dataSource), provider: harness.provider });

  before(async () => {
    harness = await startSettlementHarness();
    watcher = await startChainWatcher({
      pool: pgPoolOf(harness.db.dataSource),
      provider: harness.provider,
      escrowAddress: harness.escrowAddress,
      deploymentBlock: 0,
      confirmations: 1,
      pollIntervalMs: 1_000,
      autoTick: false,
    });
    env = {
      DATABASE_URL: (harness.db.dataSource.options as { url: string }).url,
      RPC_URL: harness.node.url,
      ESCROW_ADDRESS: harness.escrowAddress,
      LOG_LEVEL: "silent",
    };

    // A busy little system: two payers, two providers, settled usage, carried remainders, usage
    // waiting for a voucher, a provider's claim and a withdrawal request.
    const [alice, bob] = [await harness.payer(100n * USDC), await harness.payer(100n * USDC)];
    const [p1, p2] = [providerAddress(harness, 10), providerAddress(harness, 11)];
    await harness.meter(alice, p1, [875_500_000n, 750_000n]);
    await harness.meter(alice, p2, [2_400_000n]);
    await harness.meter(bob, p1, [19_999_999n, 1n, 3_000_001n]);
    const worker = await harness.startWorker();
    await worker.tick();
    await harness.meter(alice, p1, [250_000n]); // waits: it would add nothing
    await harness.stopWorkers();
    const p1Wallet = harness.node.account(10, harness.provider);
    await (await UsageEscrow__factory.connect(harness.escrowAddress, p1Wallet).claim(p1Wallet.address)).wait();
    const saver = harness.node.account(15, harness.provider);
    await harness.deposit(saver.address, 5n * USDC);
    await (await UsageEscrow__factory.connect(harness.escrowAddress, saver).requestWithdrawal(2n * USDC)).wait();
    await watcher.tick();
  });

  after(async () => {
    await watcher?.stop();
    await harness?.close();
  });

  it("passes every check on a healthy system, in-process and as `shareai reconcile`", async () => {
    const report = await run();
    expect(report.firstDifference).to.equal(null);
    expect(report.ok).to.equal(true);
    expect(report.checks.map((c) => [c.name, c.status])).to.deep.equal([
      ["mirror-cursor", "passed"],
      ["metered-usage", "passed"],
      ["usage-roots", "passed"],
      ["vouchers-on-chain", "passed"],
      ["events-mirrored", "passed"],
      ["fee-split", "passed"],
      ["ledger-unsettled", "passed"],
      ["mirror-matches-escrow", "passed"],
      ["escrow-solvency", "passed"],
    ]);
    const metered = report.checks.find((c) => c.name === "metered-usage")!;
    expect(metered.summary).to.include("250000 not yet in a voucher");

    const cli = await runShareai(env, "reconcile");
    expect(cli.code, cli.stderr + cli.stdout).to.equal(0);
    expect(cli.stdout.match(/^✓ /gm)).to.have.length(9);
    expect(cli.stdout).to.match(/^Reconciled: /m);
  });

  it("fails at the voucher holding a usage record whose cost was changed", async () => {
    const [row] = await harness.db.dataSource.query(
      "SELECT request_id, cost_micros FROM usage_records WHERE voucher_id IS NOT NULL ORDER BY request_id LIMIT 1",
    );
    await harness.db.dataSource.query("UPDATE usage_records SET cost_micros = cost_micros + 1 WHERE request_id = $1", [
      row.request_id,
    ]);
    try {
      const report = await run();
      expect(report.ok).to.equal(false);
      const failed = report.checks.filter((c) => c.status === "failed");
      expect(failed.map((c) => c.name)).to.deep.equal(["metered-usage"]);
      expect(report.firstDifference).to.match(/voucher #\d+ .* states a metered total of \d+ micro units, but the usage records up to and in it sum to \d+ \(difference 1 micro units/);
      expect(report.checks.filter((c) => c.status === "not_run")).to.have.length(7);

      const cli = await runShareai(env, "reconcile");
      expect(cli.code).to.equal(1);
      expect(cli.stdout).to.match(/^✗ Σ metered usage per pair/m);
      expect(cli.stdout).to.match(/^NOT reconciled\. First difference: pair /m);
    } finally {
      await harness.db.dataSource.query("UPDATE usage_records SET cost_micros = $2 WHERE request_id = $1", [
        row.request_id,
        row.cost_micros,
      ]);
    }
    expect((await run()).ok).to.equal(true);
  });

  it("fails with the Settled event that is on chain but missing from the mirror", async () => {
    const [row] = await harness.db.dataSource.query(
      "SELECT row_to_json(s) AS json FROM chain_settlements s ORDER BY block_number, log_index LIMIT 1",
    );
    await harness.db.dataSource.query("DELETE FROM chain_settlements WHERE tx_hash = $1 AND log_index = $2", [
      row.json.tx_hash,
      row.json.log_index,
    ]);
    try {
      const report = await run();
      expect(report.ok).to.equal(false);
      expect(report.checks.find((c) => c.status === "failed")?.name).to.equal("events-mirrored");
      expect(report.firstDifference).to.equal(
        `the Settled event in tx ${row.json.tx_hash} (log ${row.json.log_index}: ${row.json.payer} → ${row.json.provider}, paid ${row.json.paid_base}) is on chain but has no chain_settlements row`,
      );
    } finally {
      await harness.db.dataSource.query(
        "INSERT INTO chain_settlements SELECT * FROM json_populate_record(null::chain_settlements, $1::json)",
        [JSON.stringify(row.json)],
      );
    }
    expect((await run()).ok).to.equal(true);
  });

  it("fails when the mirror's settled amount of a pair differs from the escrow's", async () => {
    const [pair] = await harness.db.dataSource.query("SELECT payer, provider, settled_base FROM chain_pair_settlements LIMIT 1");
    await harness.db.dataSource.query(
      "UPDATE chain_pair_settlements SET settled_base = settled_base + 1 WHERE payer = $1 AND provider = $2",
      [pair.payer, pair.provider],
    );
    try {
      const report = await run();
      expect(report.checks.find((c) => c.status === "failed")?.name).to.equal("fee-split");
      expect(report.firstDifference).to.include(`chain_pair_settlements ${pair.payer} → ${pair.provider}: settled`);
    } finally {
      await harness.db.dataSource.query(
        "UPDATE chain_pair_settlements SET settled_base = $3 WHERE payer = $1 AND provider = $2",
        [pair.payer, pair.provider, pair.settled_base],
      );
    }
  });
});
