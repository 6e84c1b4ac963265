import { expect } from "chai";
import { startHoldSweeper } from "../../../server/domain/ledger/holdSweeper";
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

describe("expired holds", () => {
  let opened: OpenedTestDatabase;
  let db: Database;

  before(async () => {
    opened = await openTestDatabase({ poolSize: 20 });
    db = opened.db;
  });

  after(async () => {
    await opened.closeAll();
  });

  it("sweepExpiredHolds releases the holds expired at `now`, and only those", async () => {
    const funded = await fundedKey(db, 1n);
    const expired = await reserveOrFail(db, holdRequest(funded, 300_000n, { ttlMs: 1_000 }));
    const live = await reserveOrFail(db, holdRequest(funded, 200_000n, { ttlMs: 600_000 }));

    const inTenSeconds = new Date(Date.now() + 10_000);
    expect(await db.ledger.sweepExpiredHolds(inTenSeconds)).to.equal(1);
    expect(await db.ledger.sweepExpiredHolds(inTenSeconds)).to.equal(0);

    const counters = await ledgerCounters(db, funded.account, funded.key.id);
    expect(counters).to.include({ holdCount: 1, accountHeld: live.amountMicros, keyHeld: live.amountMicros });
    expect(await db.ledger.releaseHold(expired.id)).to.equal(false);
  });

  it("sweeps in batches until none is left", async () => {
    await db.ledger.sweepExpiredHolds(new Date());
    const funded = await fundedKey(db, 1n);
    for (let index = 0; index < 7; index += 1) {
      await reserveOrFail(db, holdRequest(funded, 1_000n, { ttlMs: -1 }));
    }
    const inBatchesOfThree = new PostgresLedger(pgPoolOf(db.dataSource), { sweepBatchSize: 3 });
    expect(await inBatchesOfThree.sweepExpiredHolds(new Date())).to.equal(7);
    expect((await ledgerCounters(db, funded.account, funded.key.id)).holdCount).to.equal(0);
  });

  it("a sweep racing the commits of its holds records every usage once and gives nothing back twice", async () => {
    const funded = await fundedKey(db, 10n);
    const sweeper = await opened.openInstance();
    const requests = Array.from({ length: 100 }, (_, index) =>
      holdRequest(funded, 50_000n + BigInt(index), { ttlMs: -1 }),
    );
    const holds: Hold[] = [];
    for (const request of requests) holds.push(await reserveOrFail(db, request));

    const costs = requests.map((_, index) => BigInt(index * 1_000));
    // Four lanes of commits against two sweepers, so that each side wins some of the races.
    const commitLane = async (lane: number) => {
      for (let index = lane; index < requests.length; index += 4) {
        await db.ledger.commit(usageFor(requests[index], holds[index], costs[index]));
      }
    };
    const [sweptByOne, sweptByOther] = await Promise.all([
      sweeper.ledger.sweepExpiredHolds(new Date()),
      db.ledger.sweepExpiredHolds(new Date()),
      ...[0, 1, 2, 3].map(commitLane),
    ]);

    const counters = await ledgerCounters(db, funded.account, funded.key.id);
    expect(counters).to.include({ holdCount: 0, accountHeld: 0n, keyHeld: 0n, usageCount: 100 });
    expect(counters.unsettled).to.equal(costs.reduce((sum, cost) => sum + cost, 0n));
    expect(counters.unsettled).to.equal(counters.usageSum);
    expect(sweptByOne + sweptByOther).to.be.within(0, 100);
  });

  it("a request whose hold was swept still commits its usage exactly once", async () => {
    const funded = await fundedKey(db, 1n);
    const request = holdRequest(funded, 400_000n, { ttlMs: -1 });
    const hold = await reserveOrFail(db, request);
    expect(await db.ledger.sweepExpiredHolds(new Date())).to.be.at.least(1);

    await db.ledger.commit(usageFor(request, hold, 450_000n));
    await db.ledger.commit(usageFor(request, hold, 450_000n));

    const counters = await ledgerCounters(db, funded.account, funded.key.id);
    expect(counters).to.include({ accountHeld: 0n, keyHeld: 0n, unsettled: 450_000n, usageCount: 1 });
  });
});

describe("startHoldSweeper", () => {
  it("sweeps periodically with the clock's time, never two sweeps at once, and reports failures", async () => {
    const calls: Date[] = [];
    let running = 0;
    let overlapped = false;
    const errors: unknown[] = [];
    const swept: number[] = [];
    const now = new Date("2026-01-01T00:00:00Z");
    const sweeper = startHoldSweeper(
      {
        async sweepExpiredHolds(at) {
          running += 1;
          overlapped ||= running > 1;
          calls.push(at);
          await new Promise((resolve) => setTimeout(resolve, 15));
          running -= 1;
          if (calls.length === 2) throw new Error("database went away");
          return calls.length;
        },
      },
      {
        intervalMs: 5,
        clock: () => now,
        onError: (error) => errors.push(error),
        onSwept: (count) => swept.push(count),
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 120));
    await sweeper.stop();
    const callsAtStop = calls.length;
    await new Promise((resolve) => setTimeout(resolve, 30));

    expect(callsAtStop).to.be.at.least(3);
    expect(calls.length).to.equal(callsAtStop);
    expect(calls.every((at) => at === now)).to.equal(true);
    expect(overlapped).to.equal(false);
    expect(errors).to.have.length(1);
    expect(swept.slice(0, 2)).to.deep.equal([1, 3]);
  });
});
