import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { id, type HDNodeWallet, type JsonRpcProvider } from "ethers";
import { MockUSDC__factory, UsageEscrow__factory, type MockUSDC, type UsageEscrow } from "../../../typechain-types";
import { escrowDomain, signVoucher } from "../../../server/chain/voucher";
import { compareMirrorWithEscrow, escrowViews } from "../../../server/chain/mirrorCheck";
import { openDatabase, type Database } from "../../../server/persistence";
import { startChainWatcher, type ChainWatcher, type ChainWatcherOptions } from "../../../server/workers/chainWatcher";
import type { LeaderTickResult } from "../../../server/workers/chainWatcherTick";
import { deployEscrow } from "../../../scripts/lib/deployEscrow";
import { createTestDatabase, type TestDatabase } from "../../support/database";
import { startHardhatNode, type HardhatNode } from "../../support/hardhatNode";

const USDC = 1_000_000n;
const MICROS = 1_000_000n;
const THAWING_PERIOD_SECONDS = 3_600n;

describe("workers/chainWatcher against a hardhat node", function () {
  this.timeout(60_000);

  let node: HardhatNode;
  let provider: JsonRpcProvider;
  let owner: HDNodeWallet; // deployer, escrow owner and treasury
  let signer: HDNodeWallet;
  let providerWallet: HDNodeWallet;
  let payerA: HDNodeWallet;
  let payerB: HDNodeWallet;
  let deploymentsDir: string;
  const startedAt = Date.now();

  before(async function () {
    node = await startHardhatNode();
    provider = node.provider();
    [owner, signer, providerWallet, payerA, payerB] = [0, 1, 2, 3, 4].map((i) => node.account(i, provider));
    deploymentsDir = mkdtempSync(path.join(os.tmpdir(), "shareai-chain-watcher-"));
  });

  after(async function () {
    provider?.destroy();
    await node?.stop();
    rmSync(deploymentsDir, { recursive: true, force: true });
    // The file's own budget, apart from mocha's per-test timeout.
    expect(Date.now() - startedAt).to.be.below(60_000);
  });

  /** One fresh escrow and one fresh database per test; several watchers may share them. */
  interface World {
    escrow: UsageEscrow;
    usdc: MockUSDC;
    escrowAddress: string;
    deploymentBlock: number;
    database: Database;
    testDatabase: TestDatabase;
    watchers: ChainWatcher[];
    watch(options?: Partial<ChainWatcherOptions>, database?: Database): Promise<ChainWatcher>;
  }
  let world: World;
  const databases: Database[] = [];

  beforeEach(async function () {
    const record = await deployEscrow(
      {
        deploymentsDir: mkdtempSync(path.join(deploymentsDir, "run-")),
        settlementSigner: signer.address,
        thawingPeriodSeconds: THAWING_PERIOD_SECONDS,
      },
      owner,
      () => undefined,
    );
    const testDatabase = await createTestDatabase();
    const database = await openDatabase({ databaseUrl: testDatabase.url, poolSize: 4 });
    databases.push(database);
    const watchers: ChainWatcher[] = [];
    world = {
      escrow: UsageEscrow__factory.connect(record.escrow.address, owner),
      usdc: MockUSDC__factory.connect(record.usdc.address, owner),
      escrowAddress: record.escrow.address,
      deploymentBlock: record.escrow.blockNumber,
      database,
      testDatabase,
      watchers,
      async watch(options = {}, on = database) {
        const watcher = await startChainWatcher({
          dataSource: on.dataSource,
          provider,
          escrowAddress: record.escrow.address,
          deploymentBlock: record.escrow.blockNumber,
          confirmations: 1,
          pollIntervalMs: 50,
          autoTick: false,
          ...options,
        });
        watchers.push(watcher);
        return watcher;
      },
    };
  });

  const testDatabases: TestDatabase[] = [];
  afterEach(async function () {
    await Promise.all(world.watchers.map((watcher) => watcher.stop()));
    await Promise.all(databases.splice(0).map((database) => database.close()));
    testDatabases.push(world.testDatabase);
  });
  // Dropped together at the end: a drop waits for the server to let go of the database's files.
  after(async function () {
    await Promise.all(testDatabases.map((testDatabase) => testDatabase.drop()));
  });

  // ---------------------------------------------------------------------------------------------

  const mine = (blocks: number) => provider.send("hardhat_mine", [`0x${blocks.toString(16)}`]);

  async function send(tx: Promise<{ wait(): Promise<unknown> }>): Promise<void> {
    await (await tx).wait();
  }

  async function deposit(payer: HDNodeWallet, amount: bigint): Promise<void> {
    await send(world.usdc.mint(payer.address, amount));
    await send(world.usdc.connect(payer).approve(world.escrowAddress, amount));
    await send(world.escrow.connect(payer).deposit(amount));
  }

  async function settle(payer: HDNodeWallet, payee: HDNodeWallet, cumulativeAmount: bigint): Promise<void> {
    const { chainId } = await provider.getNetwork();
    const voucher = {
      payer: payer.address,
      provider: payee.address,
      cumulativeAmount,
      usageRoot: id(`${cumulativeAmount}`),
    };
    const signature = await signVoucher(signer, escrowDomain(chainId, world.escrowAddress), voucher);
    await send(world.escrow.settle([voucher], [signature]));
  }

  async function leaderTick(watcher: ChainWatcher): Promise<LeaderTickResult> {
    const result = await watcher.tick();
    if (result.role !== "leader") throw new Error("expected this watcher to lead");
    return result;
  }

  async function setUnsettled(payer: HDNodeWallet, micros: bigint): Promise<void> {
    await world.database.accounts.upsert(payer.address);
    await world.database.dataSource.query(`UPDATE account_balances SET unsettled_micros = $2 WHERE account = $1`, [
      payer.address.toLowerCase(),
      micros.toString(),
    ]);
  }

  async function ledgerOf(payer: HDNodeWallet) {
    const balance = await world.database.accounts.getBalance(payer.address);
    return {
      available: balance?.onchainAvailableBase ?? 0n,
      thawing: balance?.onchainThawingBase ?? 0n,
      unsettled: balance?.unsettledMicros ?? 0n,
    };
  }

  /** The mirror equals the escrow's views at the cursor block, and account_balances carries the same balances. */
  async function expectExactMirror(): Promise<void> {
    const differences = await compareMirrorWithEscrow(
      world.database.chain,
      escrowViews(provider, world.escrowAddress),
      [payerA.address, payerB.address],
    );
    expect(differences).to.deep.equal([]);
    const mirrored = await world.database.chain.payerBalances();
    for (const balance of mirrored) {
      const ledger = await world.database.accounts.getBalance(balance.payer);
      expect([ledger?.onchainAvailableBase, ledger?.onchainThawingBase], balance.payer).to.deep.equal([
        balance.availableBase,
        balance.thawingBase,
      ]);
    }
  }

  async function eventNames(): Promise<string[]> {
    return (await world.database.chain.events()).map((event) => event.name);
  }

  // ---------------------------------------------------------------------------------------------

  it("applies every kind of event only after N confirmations, exactly as the escrow's views read", async function () {
    const watcher = await world.watch({ confirmations: 3 });
    await setUnsettled(payerA, 70n * USDC * MICROS + 123n);

    await deposit(payerA, 100n * USDC);
    const depositBlock = await provider.getBlockNumber();
    let result = await leaderTick(watcher);
    expect(result.cursor.blockNumber).to.equal(depositBlock - 2);
    expect((await ledgerOf(payerA)).available).to.equal(0n);
    await mine(1);
    await leaderTick(watcher);
    expect((await ledgerOf(payerA)).available, "2 confirmations").to.equal(0n);
    await mine(1);
    result = await leaderTick(watcher);
    expect(result.cursor.blockNumber).to.equal(depositBlock);
    expect(await ledgerOf(payerA)).to.deep.equal({
      available: 100n * USDC,
      thawing: 0n,
      unsettled: 70n * USDC * MICROS + 123n,
    });
    // The deployment's own events are recorded too.
    expect(await eventNames()).to.include.members(["TreasuryChanged", "SignerAuthorized", "Deposited"]);
    await expectExactMirror();

    const step = async () => {
      await mine(2);
      await leaderTick(watcher);
      await expectExactMirror();
    };

    // A withdrawal request takes its amount out of what can be spent at once.
    await send(world.escrow.connect(payerA).requestWithdrawal(30n * USDC));
    await step();
    expect(await ledgerOf(payerA)).to.deep.include({ available: 70n * USDC, thawing: 30n * USDC });
    expect((await world.database.accounts.getBalance(payerA.address))!.spendableMicros).to.equal(0n);

    // Settled: available pays, and the payment leaves unsettled usage.
    await settle(payerA, providerWallet, 50n * USDC);
    await step();
    expect(await ledgerOf(payerA)).to.deep.equal({
      available: 20n * USDC,
      thawing: 30n * USDC,
      unsettled: 20n * USDC * MICROS + 123n,
    });
    // Spendable did not move: the usage went from owed to paid.
    expect((await world.database.accounts.getBalance(payerA.address))!.spendableMicros).to.equal(0n);

    // Settled beyond available draws from thawing; unsettled usage never goes below zero.
    await settle(payerA, providerWallet, 80n * USDC);
    await step();
    expect(await ledgerOf(payerA)).to.deep.equal({ available: 0n, thawing: 20n * USDC, unsettled: 0n });
    const settlements = await world.database.chain.settlementsOfPair(payerA.address, providerWallet.address);
    expect(
      settlements.map((s) => [s.cumulativeBase, s.paidBase, s.providerShareBase, s.feeBase, s.ledgerMicros]),
    ).to.deep.equal([
      [50n * USDC, 50n * USDC, 45n * USDC, 5n * USDC, 50n * USDC * MICROS],
      [80n * USDC, 30n * USDC, 27n * USDC, 3n * USDC, 20n * USDC * MICROS + 123n],
    ]);
    expect(settlements.every((s) => s.treasury === owner.address.toLowerCase())).to.equal(true);
    expect(await world.database.chain.pairSettlement(payerA.address, providerWallet.address)).to.deep.include({
      settledBase: 80n * USDC,
      paidBase: 80n * USDC,
      providerShareBase: 72n * USDC,
      feeBase: 8n * USDC,
      settlementCount: 2,
    });

    await send(world.escrow.connect(payerA).cancelWithdrawal());
    await step();
    expect(await ledgerOf(payerA)).to.deep.include({ available: 20n * USDC, thawing: 0n });

    await send(world.escrow.connect(payerA).requestWithdrawal(15n * USDC));
    await step();
    const { thawEndsAt } = (await world.database.chain.payerBalance(payerA.address))!;
    expect(thawEndsAt > 0n, "a thawing timer").to.equal(true);
    await provider.send("evm_increaseTime", [Number(THAWING_PERIOD_SECONDS)]);
    await send(world.escrow.connect(payerA).withdraw(payerA.address));
    await step();
    expect(await ledgerOf(payerA)).to.deep.include({ available: 5n * USDC, thawing: 0n });

    // Anyone can fund anyone: the payer is credited, not the sender.
    await send(world.usdc.mint(payerA.address, 10n * USDC));
    await send(world.usdc.connect(payerA).approve(world.escrowAddress, 10n * USDC));
    await send(world.escrow.connect(payerA).depositFor(payerB.address, 10n * USDC));
    await step();
    expect(await ledgerOf(payerB)).to.deep.include({ available: 10n * USDC });

    await send(world.escrow.connect(providerWallet).claim(providerWallet.address));
    await send(world.escrow.connect(owner).claim(owner.address));
    await step();
    expect(await world.database.chain.earnings(providerWallet.address)).to.deep.include({
      earnedBase: 72n * USDC,
      claimedBase: 72n * USDC,
      unclaimedBase: 0n,
    });
    expect(await world.database.chain.earnings(owner.address)).to.deep.include({
      earnedBase: 8n * USDC,
      unclaimedBase: 0n,
    });
    expect((await eventNames()).filter((name) => name !== "OwnershipTransferred")).to.deep.equal([
      "TreasuryChanged",
      "SignerAuthorized",
      "Deposited",
      "WithdrawalRequested",
      "Settled",
      "Settled",
      "WithdrawalCancelled",
      "WithdrawalRequested",
      "Withdrawn",
      "Deposited",
      "Claimed",
      "Claimed",
    ]);
    expect(watcher.status()).to.deep.include({ leader: true, lagBlocks: 0, lastError: null, reorgs: 0 });
  });

  it("restarts from its cursor without applying anything twice, and a failed tick writes nothing", async function () {
    await setUnsettled(payerA, 10n * USDC * MICROS);
    await deposit(payerA, 40n * USDC);
    const first = await world.watch();
    await leaderTick(first);
    const applied = (await world.database.chain.events()).length;
    await first.stop();

    // A new instance (a restart) picks up from the cursor: nothing to do.
    const second = await world.watch();
    expect(await leaderTick(second)).to.deep.include({ outcome: "idle", eventsApplied: 0 });
    expect(await world.database.chain.events()).to.have.length(applied);

    // A tick that fails half-way leaves no trace: here the settlement row cannot be written.
    await world.database.dataSource.query(`
      CREATE FUNCTION refuse_settlement() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'settlements are refused'; END $$`);
    await world.database.dataSource.query(
      `CREATE TRIGGER refuse_settlement BEFORE INSERT ON chain_settlements FOR EACH ROW EXECUTE FUNCTION refuse_settlement()`,
    );
    await deposit(payerA, 2n * USDC);
    await settle(payerA, providerWallet, 12n * USDC);
    const before = { cursor: await world.database.chain.cursor(), ledger: await ledgerOf(payerA) };
    const failure = await second.tick().catch((error: Error) => error.message);
    expect(failure).to.match(/settlements are refused/);
    expect(second.status().lastError).to.match(/settlements are refused/);
    expect(await world.database.chain.cursor()).to.deep.equal(before.cursor);
    expect(await ledgerOf(payerA)).to.deep.equal(before.ledger);
    expect(await world.database.chain.events()).to.have.length(applied);

    await world.database.dataSource.query(`DROP TRIGGER refuse_settlement ON chain_settlements`);
    expect(await leaderTick(second)).to.deep.include({ outcome: "applied", eventsApplied: 2 });
    expect(await leaderTick(second)).to.deep.include({ outcome: "idle" });
    expect(await world.database.chain.events()).to.have.length(applied + 2);
    expect(await ledgerOf(payerA)).to.deep.equal({ available: 30n * USDC, thawing: 0n, unsettled: 0n });
    await expectExactMirror();
  });

  it("rolls back a reorganised branch and applies the new one: nothing lost, nothing doubled", async function () {
    const watcher = await world.watch({ confirmations: 1 });
    await setUnsettled(payerA, 50n * USDC * MICROS);
    await deposit(payerA, 100n * USDC);
    await send(world.usdc.mint(payerB.address, 7n * USDC));
    await send(world.usdc.connect(payerB).approve(world.escrowAddress, 7n * USDC));
    // payerA's next deposit, signed once and broadcast on both branches: same hash, different blocks.
    await send(world.usdc.mint(payerA.address, 5n * USDC));
    await send(world.usdc.connect(payerA).approve(world.escrowAddress, 5n * USDC));
    const rawDeposit = await payerA.signTransaction(
      await payerA.populateTransaction(await world.escrow.connect(payerA).deposit.populateTransaction(5n * USDC)),
    );
    await leaderTick(watcher);
    const common = await provider.getBlock("latest");
    const snapshot: string = await provider.send("evm_snapshot", []);

    // The branch that will be orphaned: the deposit and a settlement, both applied.
    await (await provider.broadcastTransaction(rawDeposit)).wait();
    await settle(payerA, providerWallet, 40n * USDC);
    await leaderTick(watcher);
    expect(await ledgerOf(payerA)).to.deep.equal({
      available: 65n * USDC,
      thawing: 0n,
      unsettled: 10n * USDC * MICROS,
    });
    await expectExactMirror();
    const orphaned = (await world.database.chain.events()).filter((event) => event.blockNumber > common!.number);
    expect(orphaned.map((event) => event.name)).to.deep.equal(["Deposited", "Settled"]);

    // The chain goes back; the watcher sees its blocks gone and rolls back to the common block.
    await provider.send("evm_revert", [snapshot]);
    let result = await leaderTick(watcher);
    expect(result).to.deep.include({ outcome: "applied", reorg: { commonBlock: common!.number }, eventsRolledBack: 2 });
    expect(await ledgerOf(payerA)).to.deep.equal({
      available: 100n * USDC,
      thawing: 0n,
      unsettled: 50n * USDC * MICROS,
    });
    expect(await world.database.chain.pairSettlements()).to.deep.equal([]);
    expect(await world.database.chain.earnings(providerWallet.address)).to.equal(null);
    await expectExactMirror();

    // The new branch: the same deposit transaction in another block, and a different one.
    await send(world.escrow.connect(payerB).deposit(7n * USDC));
    await (await provider.broadcastTransaction(rawDeposit)).wait();
    await mine(3);
    result = await leaderTick(watcher);
    expect(result).to.deep.include({ outcome: "applied", reorg: null, eventsApplied: 2 });
    const replayed = (await world.database.chain.events()).filter((event) => event.blockNumber > common!.number);
    expect(replayed.map((event) => event.name)).to.deep.equal(["Deposited", "Deposited"]);
    const again = replayed.find((event) => event.txHash === orphaned[0].txHash)!;
    expect(again.logIndex).to.equal(orphaned[0].logIndex);
    expect(again.blockHash).to.not.equal(orphaned[0].blockHash);
    expect(await ledgerOf(payerA)).to.deep.equal({
      available: 105n * USDC,
      thawing: 0n,
      unsettled: 50n * USDC * MICROS,
    });
    expect(await ledgerOf(payerB)).to.deep.include({ available: 7n * USDC });
    await expectExactMirror();

    const reorgs = await world.database.chain.reorgs();
    expect(reorgs.map((reorg) => [reorg.commonBlock, reorg.eventsRemoved])).to.deep.equal([[common!.number, 2]]);
    expect(watcher.status()).to.deep.include({ reorgs: 1, eventsRolledBack: 2 });
  });

  it("replays from the deployment block when a reorganisation is deeper than it remembers", async function () {
    const watcher = await world.watch({ confirmations: 1, maxReorgDepth: 1 });
    await leaderTick(watcher);
    const snapshot: string = await provider.send("evm_snapshot", []);
    for (const amount of [1n, 2n, 3n]) {
      await deposit(payerA, amount * USDC);
      await settle(payerA, providerWallet, amount * USDC);
      await leaderTick(watcher);
    }
    expect(await ledgerOf(payerA)).to.deep.include({ available: 3n * USDC });
    const remembered = await world.database.chain.rememberedBlocks();
    expect(remembered.length).to.be.below(6);

    await provider.send("evm_revert", [snapshot]);
    await deposit(payerB, 9n * USDC);
    await mine(8);
    const result = await leaderTick(watcher);
    expect(result).to.deep.include({ outcome: "applied", reorg: { commonBlock: null } });
    expect(await ledgerOf(payerA)).to.deep.include({ available: 0n, thawing: 0n });
    expect(await ledgerOf(payerB)).to.deep.include({ available: 9n * USDC });
    expect(await world.database.chain.pairSettlements()).to.deep.equal([]);
    expect(await eventNames()).to.include.members(["TreasuryChanged", "SignerAuthorized", "Deposited"]);
    await expectExactMirror();
  });

  it("lets only one of two instances on one database act, and the other take over when it stops", async function () {
    const other = await openDatabase({ databaseUrl: world.testDatabase.url, poolSize: 4 });
    databases.push(other);
    const a = await world.watch();
    const b = await world.watch({}, other);
    await deposit(payerA, 3n * USDC);
    expect((await a.tick()).role).to.equal("leader");
    expect(await b.tick()).to.deep.equal({ role: "follower" });
    await deposit(payerA, 4n * USDC);
    expect(await b.tick()).to.deep.equal({ role: "follower" });
    expect(await ledgerOf(payerA)).to.deep.include({ available: 3n * USDC });
    expect((await a.tick()).role).to.equal("leader");
    expect(await ledgerOf(payerA)).to.deep.include({ available: 7n * USDC });

    await a.stop();
    await deposit(payerA, 5n * USDC);
    expect(await leaderTick(b)).to.deep.include({ outcome: "applied", eventsApplied: 1 });
    expect(await ledgerOf(payerA)).to.deep.include({ available: 12n * USDC });
    expect(b.status().leader).to.equal(true);
    await expectExactMirror();
  });

  it("keeps the mirror exact with two instances ticking on their own timers", async function () {
    const other = await openDatabase({ databaseUrl: world.testDatabase.url, poolSize: 4 });
    databases.push(other);
    const a = await world.watch({ autoTick: true, pollIntervalMs: 20 });
    const b = await world.watch({ autoTick: true, pollIntervalMs: 20 }, other);
    for (const amount of [1n, 2n, 3n, 4n]) {
      await deposit(payerA, amount * USDC);
      await settle(payerA, providerWallet, amount * USDC);
    }
    const head = await provider.getBlockNumber();
    const deadline = Date.now() + 10_000;
    while ((await world.database.chain.cursor())?.blockNumber !== head) {
      if (Date.now() > deadline) throw new Error("the watchers did not catch up");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect([a.status().leader, b.status().leader].filter(Boolean)).to.have.length(1);
    expect(await ledgerOf(payerA)).to.deep.include({ available: 6n * USDC });
    expect((await eventNames()).filter((name) => name === "Deposited")).to.have.length(4);
    await expectExactMirror();
  });

  it("replays the same escrow from an earlier deployment block without doubling anything", async function () {
    await deposit(payerA, 6n * USDC);
    const late = await world.watch({ deploymentBlock: world.deploymentBlock + 1 });
    await leaderTick(late);
    // Started after the deployment block, it missed the constructor's TreasuryChanged.
    expect(await eventNames()).to.not.include("TreasuryChanged");
    await late.stop();

    const early = await world.watch({ deploymentBlock: world.deploymentBlock });
    expect(await leaderTick(early)).to.deep.include({ outcome: "applied" });
    expect((await eventNames()).filter((name) => name === "Deposited")).to.have.length(1);
    expect(await eventNames()).to.include("TreasuryChanged");
    expect(await world.database.chain.cursor()).to.deep.include({ deploymentBlock: world.deploymentBlock });
    expect(await ledgerOf(payerA)).to.deep.include({ available: 6n * USDC });
    await expectExactMirror();
  });

  it("refuses to follow another escrow on the same database unless told to start over", async function () {
    const watcher = await world.watch();
    await setUnsettled(payerA, 10n * USDC * MICROS);
    await deposit(payerA, 20n * USDC);
    await settle(payerA, providerWallet, 10n * USDC);
    await leaderTick(watcher);
    expect(await ledgerOf(payerA)).to.deep.equal({ available: 10n * USDC, thawing: 0n, unsettled: 0n });
    await watcher.stop();

    const second = await deployEscrow(
      { deploymentsDir: mkdtempSync(path.join(deploymentsDir, "run-")), settlementSigner: signer.address },
      owner,
      () => undefined,
    );
    const options = { escrowAddress: second.escrow.address, deploymentBlock: second.escrow.blockNumber };
    const refused = await world.watch(options).catch((error: Error) => error);
    expect(refused).to.have.property("name", "ForeignEscrowError");

    const replacing = await world.watch({ ...options, allowEscrowChange: true });
    await leaderTick(replacing);
    // The old escrow's balances and settlements are gone, and its settlement's effect on the ledger undone.
    expect(await ledgerOf(payerA)).to.deep.equal({ available: 0n, thawing: 0n, unsettled: 10n * USDC * MICROS });
    expect(await world.database.chain.cursor()).to.deep.include({ escrow: second.escrow.address.toLowerCase() });
    expect(await world.database.chain.pairSettlements()).to.deep.equal([]);
  });
});
