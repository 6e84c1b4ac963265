import { expect } from "chai";
import type { Pool, QueryConfig } from "pg";
import type { Hold } from "../../../server/domain/ports";
import type { Database } from "../../../server/persistence";
import { PostgresLedger } from "../../../server/persistence/ledger/postgresLedger";
import { pgPoolOf } from "../../../server/persistence/pgPool";
import {
  fundedKey,
  holdRequest,
  ledgerCounters,
  openTestDatabase,
  reserveOrFail,
  usageFor,
  type OpenedTestDatabase,
} from "./fixtures";

/** The pool, with a record of the named statements sent through it. */
function recordingPool(pool: Pool, names: string[]): Pool {
  return new Proxy(pool, {
    get(target, property, receiver) {
      if (property !== "query") return Reflect.get(target, property, receiver);
      return (config: QueryConfig, ...rest: unknown[]) => {
        if (config.name) names.push(config.name);
        return (target.query as (...args: unknown[]) => unknown)(config, ...rest);
      };
    },
  });
}

describe("ledger batching (requests arriving together share one statement)", () => {
  let opened: OpenedTestDatabase;
  let db: Database;
  let statements: string[];
  let ledger: PostgresLedger;

  before(async () => {
    opened = await openTestDatabase({ poolSize: 20 });
    db = opened.db;
  });

  beforeEach(() => {
    statements = [];
    ledger = new PostgresLedger(recordingPool(pgPoolOf(db.dataSource), statements));
  });

  after(async () => {
    await opened.closeAll();
  });

  const count = (name: string) => statements.filter((statement) => statement === name).length;

  it("decides the reserves of a busy account in groups, exactly", async () => {
    const funded = await fundedKey(db, 1n);
    const results = await Promise.all(Array.from({ length: 60 }, () => ledger.reserve(holdRequest(funded, 40_000n))));

    expect(results.filter((result) => result.ok)).to.have.length(25);
    expect(count("ledger_reserve_hold_batch")).to.be.greaterThan(0);
    expect(count("ledger_reserve_hold_batch") + count("ledger_reserve_hold")).to.be.lessThan(60);
    for (const result of results) {
      if (!result.ok)
        expect(result.refusal).to.deep.equal({
          reason: "insufficient_balance",
          spendableMicros: 0n,
          neededMicros: 40_000n,
        });
    }
    const counters = await ledgerCounters(db, funded.account, funded.key.id);
    expect(counters).to.include({ holdCount: 25, accountHeld: 1_000_000n, keyHeld: 1_000_000n });
  });

  it("applies each key's caps within a group and never holds more than spendable", async () => {
    const capped = await fundedKey(db, 2n, { dailySpendCapBase: 1n });
    const uncapped = {
      ...capped,
      key: (await db.apiKeys.create({ account: capped.account, name: "uncapped" })).apiKey,
    };
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, index) => ledger.reserve(holdRequest(index % 2 ? uncapped : capped, 100_000n))),
    );
    const placedBy = (keyId: string) => results.filter((result) => result.ok && result.hold.keyId === keyId).length;
    expect(placedBy(capped.key.id)).to.equal(10);
    expect(placedBy(uncapped.key.id)).to.be.within(1, 10);
    for (const [index, result] of results.entries()) {
      if (!result.ok && index % 2 === 0)
        expect(result.refusal.reason).to.be.oneOf(["daily_spend_cap", "insufficient_balance"]);
      if (!result.ok && index % 2 === 1) expect(result.refusal.reason).to.equal("insufficient_balance");
    }
    for (const key of [capped, uncapped]) {
      const counters = await ledgerCounters(db, key.account, key.key.id);
      expect(counters.keyHeld).to.equal(counters.keyHoldsSum);
      expect(counters.accountHeld).to.equal(counters.holdsSum);
      expect(counters.accountHeld <= 2_000_000n).to.equal(true);
    }
  });

  it("fails only the request of a group that repeats a request id or names a key of another account", async () => {
    const funded = await fundedKey(db, 1n);
    const stranger = await fundedKey(db, 1n);
    const repeated = holdRequest(funded, 1_000n);
    const outcomes = await Promise.allSettled([
      ledger.reserve(holdRequest(funded, 1_000n)),
      ledger.reserve(repeated),
      ledger.reserve(repeated),
      ledger.reserve(holdRequest(funded, 1_000n, { keyId: stranger.key.id })),
      ledger.reserve(holdRequest(funded, 1_000n)),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).to.deep.equal([
      "fulfilled",
      "fulfilled",
      "rejected",
      "rejected",
      "fulfilled",
    ]);
    expect((outcomes[2] as PromiseRejectedResult).reason.message).to.match(/already has a hold/);
    expect((outcomes[3] as PromiseRejectedResult).reason.message).to.match(/no balance or spend row/);
    const counters = await ledgerCounters(db, funded.account, funded.key.id);
    expect(counters).to.include({ holdCount: 3, accountHeld: 3_000n, keyHeld: 3_000n });
  });

  it("writes the commits that arrive together as one statement, each exactly once", async () => {
    const funded = await fundedKey(db, 10n);
    const requests = Array.from({ length: 40 }, () => holdRequest(funded, 100_000n));
    const holds: Hold[] = [];
    for (const request of requests) holds.push(await reserveOrFail(db, request));

    await Promise.all(
      requests.flatMap((request, index) => {
        const usage = usageFor(request, holds[index], BigInt(index));
        return index % 5 === 0 ? [ledger.commit(usage), ledger.commit(usage)] : [ledger.commit(usage)];
      }),
    );

    expect(count("ledger_commit_usage_batch")).to.be.greaterThan(0);
    expect(count("ledger_commit_usage_batch") + count("ledger_commit_usage")).to.be.lessThan(40);
    const counters = await ledgerCounters(db, funded.account, funded.key.id);
    expect(counters).to.include({ usageCount: 40, holdCount: 0, accountHeld: 0n, keyHeld: 0n });
    expect(counters.unsettled).to.equal(BigInt((39 * 40) / 2));
    expect(counters.keySpent).to.equal(counters.unsettled);
  });

  it("fails only the commit of a group that breaks a rule or names a key of another account", async () => {
    const funded = await fundedKey(db, 10n);
    const stranger = await fundedKey(db, 1n);
    const requests = Array.from({ length: 6 }, () => holdRequest(funded, 100_000n));
    const holds: Hold[] = [];
    for (const request of requests) holds.push(await reserveOrFail(db, request));

    const outcomes = await Promise.allSettled(
      requests.map((request, index) => {
        if (index === 1)
          return ledger.commit(
            usageFor(request, holds[index], 5n, { usage: { promptTokens: -1, completionTokens: 0 } }),
          );
        if (index === 4) return ledger.commit(usageFor(request, holds[index], 5n, { account: stranger.account }));
        return ledger.commit(usageFor(request, holds[index], 5n));
      }),
    );
    expect(outcomes.map((outcome) => outcome.status)).to.deep.equal([
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
    ]);
    expect((outcomes[4] as PromiseRejectedResult).reason.message).to.match(/is not a key of/);
    const counters = await ledgerCounters(db, funded.account, funded.key.id);
    expect(counters).to.include({ usageCount: 4, holdCount: 2, unsettled: 20n, accountHeld: 200_000n });
    expect(counters.keyHeld).to.equal(counters.keyHoldsSum);
  });
});
