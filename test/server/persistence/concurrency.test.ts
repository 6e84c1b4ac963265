import { expect } from "chai";
import type { HoldRequest } from "../../../server/domain/ports";
import type { Database } from "../../../server/persistence";
import {
  fundedKey,
  holdRequest,
  ledgerCounters,
  openTestDatabase,
  usageFor,
  type FundedKey,
  type OpenedTestDatabase,
} from "./fixtures";

/**
 * Two DataSources on one database are two gateway instances: separate pools,
 * separate connections, nothing shared but Postgres.
 */
describe("ledger under concurrency (two gateway instances)", () => {
  let opened: OpenedTestDatabase;
  let instances: [Database, Database];

  before(async () => {
    opened = await openTestDatabase({ poolSize: 20 });
    instances = [opened.db, await opened.openInstance()];
  });

  after(async () => {
    await opened.closeAll();
  });

  const HOLD_MICROS = 50_000n;

  it("200 simultaneous reserves against a balance that covers 20 place exactly 20 holds", async () => {
    // 20 holds of 0.05 base units = exactly 1 base unit.
    const funded = await fundedKey(opened.db, 1n);
    const requests = Array.from({ length: 200 }, () => holdRequest(funded, HOLD_MICROS));
    const results = await Promise.all(requests.map((request, index) => instances[index % 2].ledger.reserve(request)));

    const placed = results.filter((result) => result.ok);
    expect(placed).to.have.length(20);
    for (const result of results) {
      if (!result.ok)
        expect(result.refusal).to.deep.include({ reason: "insufficient_balance", neededMicros: HOLD_MICROS });
    }
    const counters = await ledgerCounters(opened.db, funded.account, funded.key.id);
    expect(counters).to.include({ holdCount: 20, accountHeld: 20n * HOLD_MICROS, holdsSum: 20n * HOLD_MICROS });
    expect(await opened.db.accounts.getBalance(funded.account)).to.include({ spendableMicros: 0n });
  });

  it("a key's daily cap holds under the same storm", async () => {
    const funded = await fundedKey(opened.db, 1_000n, { dailySpendCapBase: 1n });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, index) => instances[index % 2].ledger.reserve(holdRequest(funded, HOLD_MICROS))),
    );
    expect(results.filter((result) => result.ok)).to.have.length(20);
    const counters = await ledgerCounters(opened.db, funded.account, funded.key.id);
    expect(counters).to.include({ keyHeld: 20n * HOLD_MICROS, keyHoldsSum: 20n * HOLD_MICROS });
  });

  it("reserves, commits, releases and sweeps racing on both instances never hold more than spendable", async () => {
    const funded = await fundedKey(opened.db, 2n, { dailySpendCapBase: 5n });
    const otherKey = (await opened.db.apiKeys.create({ account: funded.account, name: "second key" })).apiKey;
    const keys: FundedKey[] = [funded, { ...funded, key: otherKey }];
    let peakHeld = 0n;

    const oneRequest = async (index: number) => {
      const instance = instances[index % 2];
      const request: HoldRequest = holdRequest(keys[index % 2], BigInt(10_000 + ((index * 7919) % 90_000)), {
        // A third of the holds are already expired, so the sweepers race their commits.
        ttlMs: index % 3 === 0 ? -1_000 : 60_000,
      });
      const result = await instance.ledger.reserve(request);
      if (!result.ok) return;
      const balance = await opened.db.accounts.getBalance(funded.account);
      if (balance!.heldMicros > peakHeld) peakHeld = balance!.heldMicros;
      const ending = index % 4;
      const cost = (request.amountMicros * BigInt(index % 5)) / 3n; // sometimes 0, sometimes above the hold
      if (ending === 0) await instance.ledger.release(result.hold.id);
      else await instance.ledger.commit(usageFor(request, result.hold, cost));
      if (index % 10 === 0) await instance.ledger.commit(usageFor(request, result.hold, cost));
    };
    const sweeping = async () => {
      for (let round = 0; round < 20; round += 1) {
        await Promise.all(instances.map((instance) => instance.ledger.sweepExpiredHolds(new Date())));
      }
    };

    await Promise.all([...Array.from({ length: 300 }, (_, index) => oneRequest(index)), sweeping()]);
    await instances[0].ledger.sweepExpiredHolds(new Date());

    for (const key of keys) {
      const counters = await ledgerCounters(opened.db, funded.account, key.key.id);
      expect(counters.keyHeld, "key held = Σ its holds").to.equal(counters.keyHoldsSum);
      expect(counters.keySpent, "key spent = Σ its usage").to.equal(counters.keyUsageSum);
    }
    const counters = await ledgerCounters(opened.db, funded.account, funded.key.id);
    expect(counters.accountHeld, "account held = Σ holds").to.equal(counters.holdsSum);
    expect(counters.unsettled, "unsettled = Σ usage").to.equal(counters.usageSum);
    expect(peakHeld <= 2_000_000n, `peak held ${peakHeld} within the deposit`).to.equal(true);
    const [{ duplicates }] = await opened.db.dataSource.query(
      "SELECT count(*) - count(DISTINCT request_id) AS duplicates FROM usage_records WHERE account = $1",
      [funded.account],
    );
    expect(Number(duplicates)).to.equal(0);
  });
});
