import { expect } from "chai";
import { Pool } from "pg";
import { createLeaderElection, withAdvisoryLock, type LeaderElection } from "../../../server/workers/advisoryLock";
import { createTestDatabase, type TestDatabase } from "../../support/database";

describe("workers/advisoryLock", () => {
  let database: TestDatabase;
  let pools: Pool[];
  let elections: LeaderElection[];

  beforeEach(async () => {
    database = await createTestDatabase();
    pools = [
      new Pool({ connectionString: database.url, max: 3 }),
      new Pool({ connectionString: database.url, max: 3 }),
    ];
    elections = [];
  });

  afterEach(async () => {
    await Promise.all(elections.map((election) => election.release()));
    await Promise.all(pools.map((pool) => pool.end()));
    await database.drop();
  });

  function elect(pool: Pool, lockKey = "test.worker", changes?: boolean[]): LeaderElection {
    const election = createLeaderElection({ pool, lockKey, onChange: (leader) => changes?.push(leader) });
    elections.push(election);
    return election;
  }

  it("elects exactly one leader among instances, and keeps it tick after tick", async () => {
    const [a, b, c] = [elect(pools[0]), elect(pools[1]), elect(pools[1])];
    const first = await Promise.all([a.check(), b.check(), c.check()]);
    expect(first.filter(Boolean)).to.have.length(1);
    for (let round = 0; round < 3; round += 1) {
      expect(await Promise.all([a.check(), b.check(), c.check()])).to.deep.equal(first);
    }
    // Different lock names elect independently.
    expect(await elect(pools[1], "test.other").check()).to.equal(true);
  });

  it("hands over when the leader releases, and when its connection is cut", async () => {
    const changes: boolean[] = [];
    const a = elect(pools[0], "test.worker", changes);
    const b = elect(pools[1]);
    expect(await a.check()).to.equal(true);
    expect(await b.check()).to.equal(false);

    // The leader's session is terminated (a network cut, a failover): the lock goes with it.
    await pools[1].query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE application_name = 'shareai leader test.worker' AND pid <> pg_backend_pid()
         AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)`,
    );
    // pg_terminate_backend only signals; the session ends (and frees the lock) a moment later.
    const deadline = Date.now() + 5_000;
    while (!(await b.check())) {
      if (Date.now() > deadline) throw new Error("the lock was not freed by the terminated session");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await a.check()).to.equal(false);
    expect(changes).to.deep.equal([true, false]);

    await b.release();
    expect(await b.check()).to.equal(false);
    expect(await a.check()).to.equal(true);
  });

  it("withAdvisoryLock runs the job only where the lock is free, and frees it afterwards", async () => {
    const order: string[] = [];
    let releaseFirst!: () => void;
    const first = withAdvisoryLock(pools[0], "test.job", async () => {
      order.push("first ran");
      await new Promise<void>((resolve) => (releaseFirst = resolve));
      return 1;
    });
    while (order.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await withAdvisoryLock(pools[1], "test.job", async () => order.push("second ran"))).to.deep.equal({
      acquired: false,
    });
    releaseFirst();
    expect(await first).to.deep.equal({ acquired: true, value: 1 });
    expect(await withAdvisoryLock(pools[1], "test.job", async () => 2)).to.deep.equal({ acquired: true, value: 2 });
    const failed = await withAdvisoryLock(pools[0], "test.job", async () => {
      throw new Error("job failed");
    }).catch((error: Error) => error.message);
    expect(failed).to.equal("job failed");
    expect(await withAdvisoryLock(pools[1], "test.job", async () => 3)).to.deep.equal({ acquired: true, value: 3 });
    expect(order).to.deep.equal(["first ran"]);
  });
});
