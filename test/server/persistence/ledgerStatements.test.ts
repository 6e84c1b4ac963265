import { expect } from "chai";
import { Client, type Pool, type QueryConfig } from "pg";
import type { Hold, HoldRequest } from "../../../server/domain/ports";
import type { Database } from "../../../server/persistence";
import { PostgresLedger } from "../../../server/persistence/ledger/postgresLedger";
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
 * The ledger's statements on ONE connection of their own (a pg Client standing
 * in for the pool), so that a test can look at that connection's settings
 * between and inside their transactions, and see which statement ran.
 */
describe("ledger statements", () => {
  let opened: OpenedTestDatabase;
  let db: Database;
  let client: Client;
  let statements: string[];

  before(async () => {
    opened = await openTestDatabase({ poolSize: 10 });
    db = opened.db;
    client = new Client({ connectionString: opened.testDatabase.url });
    await client.connect();
    // The session's own setting, whatever the server's default (the embedded test server runs with it off).
    await client.query("SET synchronous_commit = on");
  });

  beforeEach(() => {
    statements = [];
  });

  after(async () => {
    await client.end();
    await opened.closeAll();
  });

  /** A ledger whose every statement runs on `client`, recording the names of the statements it sends. */
  function ledgerOnClient(options: { clock?: () => Date } = {}): PostgresLedger {
    const onClient = {
      query(config: QueryConfig) {
        if (config.name) statements.push(config.name);
        return client.query(config);
      },
    };
    return new PostgresLedger(onClient as unknown as Pool, options);
  }

  async function setting(name = "synchronous_commit"): Promise<string> {
    const { rows } = await client.query<{ value: string }>("SELECT current_setting($1) AS value", [name]);
    return rows[0].value;
  }

  /** Runs `work` inside BEGIN … ROLLBACK on the client: `during` is synchronous_commit just before the rollback. */
  async function inTransaction<T>(work: () => Promise<T>): Promise<{ result: T; during: string }> {
    await client.query("BEGIN");
    try {
      const result = await work();
      return { result, during: await setting() };
    } finally {
      await client.query("ROLLBACK");
    }
  }

  async function reserved(ledger: PostgresLedger, request: HoldRequest): Promise<Hold> {
    const result = await ledger.reserve(request);
    if (!result.ok) throw new Error(`expected a hold, got ${result.refusal.reason}`);
    return result.hold;
  }

  async function expectConsistent(funded: FundedKey) {
    const counters = await ledgerCounters(db, funded.account, funded.key.id);
    expect(counters.accountHeld, "account held = Σ holds").to.equal(counters.holdsSum);
    expect(counters.keyHeld, "key held = Σ its holds").to.equal(counters.keyHoldsSum);
    expect(counters.unsettled, "unsettled = Σ usage").to.equal(counters.usageSum);
    expect(counters.keySpent, "key spent = Σ its usage").to.equal(counters.keyUsageSum);
    return counters;
  }

  describe("holds commit asynchronously, usage records synchronously", () => {
    // Custom plans (the first executions of a prepared statement) and the generic plan Postgres may switch to
    // after five: the setting must be evaluated under both.
    for (const planCacheMode of ["force_custom_plan", "force_generic_plan"]) {
      describe(`with plan_cache_mode = ${planCacheMode}`, () => {
        before(async () => {
          await client.query(`SET plan_cache_mode = ${planCacheMode}`);
        });

        after(async () => {
          await client.query("RESET plan_cache_mode");
        });

        it("a reserve, placed or refused, turns synchronous_commit off for its own transaction only", async () => {
          const ledger = ledgerOnClient();
          for (let round = 0; round < 7; round++) {
            const funded = await fundedKey(db, 1n);
            const placed = await inTransaction(() => ledger.reserve(holdRequest(funded, 600_000n)));
            expect(placed.result.ok).to.equal(true);
            expect(placed.during, "inside the reserve's transaction").to.equal("off");
            expect(await setting(), "after it").to.equal("on");

            const refused = await inTransaction(() => ledger.reserve(holdRequest(funded, 1_000_001n)));
            expect(refused.result).to.deep.include({ ok: false });
            expect(refused.during).to.equal("off");
          }
          expect(statements.filter((name) => name === "ledger_reserve_hold")).to.have.length(14);
        });

        it("so does a group reserve", async () => {
          const ledger = ledgerOnClient();
          for (let round = 0; round < 7; round++) {
            const funded = await fundedKey(db, 1n);
            const group = await inTransaction(() =>
              Promise.all([1, 2, 3].map(() => ledger.reserve(holdRequest(funded, 300_000n)))),
            );
            // Each hold of a group reports what the account can spend once the whole group is placed.
            expect(group.result.map((result) => result.ok && result.hold.spendableAfterMicros)).to.deep.equal([
              100_000n,
              100_000n,
              100_000n,
            ]);
            expect(group.during).to.equal("off");
            expect(await setting()).to.equal("on");
          }
          expect(statements).to.deep.equal(Array(7).fill("ledger_reserve_hold_batch"));
        });

        it("so does a release", async () => {
          const ledger = ledgerOnClient();
          for (let round = 0; round < 7; round++) {
            const funded = await fundedKey(db, 1n);
            const hold = await reserved(ledger, holdRequest(funded, 1_000n));
            const released = await inTransaction(() => ledger.releaseHold(hold.id));
            expect(released).to.deep.equal({ result: true, during: "off" });
            expect(await setting()).to.equal("on");
          }
        });

        it("a usage commit, alone or in a group, leaves it on: the record is durable when commit() resolves", async () => {
          const ledger = ledgerOnClient();
          for (let round = 0; round < 7; round++) {
            const funded = await fundedKey(db, 1n);
            const requests = [1, 2, 3, 4].map(() => holdRequest(funded, 1_000n));
            const holds: Hold[] = [];
            for (const request of requests) holds.push(await reserved(ledger, request));
            statements = [];

            const alone = await inTransaction(() => ledger.commit(usageFor(requests[0], holds[0], 900n)));
            expect(alone.during).to.equal("on");
            const group = await inTransaction(() =>
              Promise.all(
                requests.slice(1).map((request, index) => ledger.commit(usageFor(request, holds[index + 1], 900n))),
              ),
            );
            expect(group.during).to.equal("on");
            expect(statements).to.deep.equal(["ledger_commit_usage", "ledger_commit_usage_batch"]);
          }
        });
      });
    }

    it("the next statement on the connection runs with the session's own setting, whatever it is", async () => {
      const ledger = ledgerOnClient();
      const funded = await fundedKey(db, 1n);
      const [backend] = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows;
      for (const sessionSetting of ["on", "local", "remote_write"]) {
        await client.query(`SET synchronous_commit = ${sessionSetting}`);
        const hold = await reserved(ledger, holdRequest(funded, 1_000n));
        expect(await setting(), "after a reserve").to.equal(sessionSetting);
        await Promise.all([1, 2].map(() => reserved(ledger, holdRequest(funded, 1_000n))));
        expect(await setting(), "after a group reserve").to.equal(sessionSetting);
        expect(await ledger.releaseHold(hold.id)).to.equal(true);
        expect(await setting(), "after a release").to.equal(sessionSetting);
        expect(await ledger.reserve(holdRequest(funded, 10_000_000n))).to.deep.include({ ok: false });
        expect(await setting(), "after a refused reserve").to.equal(sessionSetting);
      }
      await client.query("SET synchronous_commit = on");
      // One connection throughout: the settings read are those of the connection the statements ran on.
      expect((await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid).to.equal(backend.pid);
      const names = ["ledger_reserve_hold", "ledger_reserve_hold_batch", "ledger_release_hold"];
      expect(statements).to.include.members(names);
      // Still named statements, prepared once on the connection (runNamed hands node-postgres the name by prototype).
      const { rows: prepared } = await client.query<{ name: string }>("SELECT name FROM pg_prepared_statements");
      expect(prepared.map((row) => row.name)).to.include.members(names);
      await expectConsistent(funded);
    });

    it("a hold is placed atomically and seen at once by every instance, which counts it against its own reserves", async () => {
      const onClient = ledgerOnClient();
      const funded = await fundedKey(db, 1n);
      const hold = await reserved(onClient, holdRequest(funded, 600_000n));
      expect(hold.spendableAfterMicros, "what the reserve read, less its hold").to.equal(400_000n);
      // Another instance (its own pool and connections), right after the reserve resolved.
      expect(await db.ledger.reserve(holdRequest(funded, 400_001n))).to.deep.equal({
        ok: false,
        refusal: { reason: "insufficient_balance", spendableMicros: 400_000n, neededMicros: 400_001n },
      });
      // Both instances racing for the 400,000 left: exactly eight holds of 50,000 fit.
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, index) =>
          (index % 2 ? onClient : db.ledger).reserve(holdRequest(funded, 50_000n)),
        ),
      );
      expect(results.filter((result) => result.ok)).to.have.length(8);
      for (const result of results)
        if (result.ok && result.hold.spendableAfterMicros !== undefined) {
          expect(result.hold.spendableAfterMicros >= 0n && result.hold.spendableAfterMicros <= 350_000n).to.equal(true);
        }
      const counters = await expectConsistent(funded);
      expect(counters).to.include({ holdCount: 9, accountHeld: 1_000_000n });
    });
  });

  describe("times, sent as epoch milliseconds", () => {
    async function stamps(table: "holds" | "usage_records", requestId: string) {
      const at = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')`;
      const rows = await db.dataSource.query(
        table === "holds"
          ? `SELECT ${at("created_at")} AS created_at, ${at(
              "expires_at",
            )} AS expires_at FROM holds WHERE request_id = $1`
          : `SELECT ${at("created_at")} AS created_at FROM usage_records WHERE request_id = $1`,
        [requestId],
      );
      return rows[0];
    }

    it("stamp holds and records to the millisecond, exactly, and count the daily cap by the clock's UTC day", async () => {
      // Far east of UTC: 23:59:59.999 UTC is already the next afternoon here. The day must still be the UTC one.
      await client.query("SET TIME ZONE 'Pacific/Kiritimati'");
      try {
        let now = new Date("2026-03-01T23:59:59.999Z");
        const ledger = ledgerOnClient({ clock: () => now });
        const funded = await fundedKey(db, 10n, { dailySpendCapBase: 5n });
        const alone = holdRequest(funded, 1_000_000n, { ttlMs: 60_001 });
        const group = [1, 2].map(() => holdRequest(funded, 1_000_000n, { ttlMs: 1 }));
        const aloneHold = await reserved(ledger, alone);
        const groupHolds = await Promise.all(group.map((request) => reserved(ledger, request)));
        expect(statements).to.deep.equal(["ledger_reserve_hold", "ledger_reserve_hold_batch"]);

        expect(aloneHold.expiresAt.toISOString()).to.equal("2026-03-02T00:01:00.000Z");
        expect(await stamps("holds", alone.requestId)).to.deep.equal({
          created_at: "2026-03-01T23:59:59.999000",
          expires_at: "2026-03-02T00:01:00.000000",
        });
        for (const [index, request] of group.entries()) {
          expect(groupHolds[index].expiresAt.toISOString()).to.equal("2026-03-02T00:00:00.000Z");
          expect(await stamps("holds", request.requestId)).to.deep.equal({
            created_at: "2026-03-01T23:59:59.999000",
            expires_at: "2026-03-02T00:00:00.000000",
          });
        }

        await ledger.commit(usageFor(alone, aloneHold, 2_000_000n));
        expect(await stamps("usage_records", alone.requestId)).to.deep.equal({
          created_at: "2026-03-01T23:59:59.999000",
        });
        const [spend] = await db.dataSource.query(
          "SELECT spend_day::text AS day, day_spent_micros::text AS spent FROM api_key_spend WHERE key_id = $1",
          [funded.key.id],
        );
        expect(spend).to.deep.equal({ day: "2026-03-01", spent: "2000000" });
        // Still 1 March: 2,000,000 spent and 2,000,000 held of the 5,000,000 cap leave 1,000,000.
        expect(await ledger.reserve(holdRequest(funded, 1_000_001n))).to.deep.equal({
          ok: false,
          refusal: { reason: "daily_spend_cap", remainingMicros: 1_000_000n, neededMicros: 1_000_001n },
        });

        // One millisecond later it is 2 March (UTC): the day's spend starts afresh, the group's holds still count.
        now = new Date("2026-03-02T00:00:00.000Z");
        await Promise.all(
          group.map((request, index) => ledger.commit(usageFor(request, groupHolds[index], 1_500_000n))),
        );
        for (const request of group) {
          expect(await stamps("usage_records", request.requestId)).to.deep.equal({
            created_at: "2026-03-02T00:00:00.000000",
          });
        }
        const [nextDay] = await db.dataSource.query(
          "SELECT spend_day::text AS day, day_spent_micros::text AS spent FROM api_key_spend WHERE key_id = $1",
          [funded.key.id],
        );
        expect(nextDay).to.deep.equal({ day: "2026-03-02", spent: "3000000" });
        await expectConsistent(funded);
      } finally {
        await client.query("RESET TIME ZONE");
      }
    });
  });

  describe("awkward values in one group", () => {
    const AWKWARD_IDS = [
      `req-"quoted"`,
      "req-it's",
      "req-a,b,c",
      "req-{braces}",
      "req-back\\slash\\",
      'req-\\"escaped\\"',
      "req-NULL",
      "req- spaces\ttab\nnewline ",
      "req-ünïcödé-日本語-🎉-עברית",
      `req-{"json":[1,2]}`,
    ];

    it("reserves and commits request ids and model ids with quotes, commas, braces, backslashes and unicode", async () => {
      const ledger = ledgerOnClient();
      const funded = await fundedKey(db, 1n);
      const suffix = `-${Date.now()}`;
      const requests = AWKWARD_IDS.map((id) => holdRequest(funded, 1_000n, { requestId: id + suffix, modelId: id }));
      const holds = await Promise.all(requests.map((request) => reserved(ledger, request)));
      await Promise.all(requests.map((request, index) => ledger.commit(usageFor(request, holds[index], 7n))));
      expect(statements).to.deep.equal(["ledger_reserve_hold_batch", "ledger_commit_usage_batch"]);

      const { rows } = await client.query<{ request_id: string; model_id: string }>(
        "SELECT request_id, model_id FROM usage_records WHERE account = $1 ORDER BY request_id",
        [funded.account],
      );
      expect(rows.map((row) => [row.request_id, row.model_id]).sort()).to.deep.equal(
        requests.map((request) => [request.requestId, request.modelId]).sort(),
      );
      const counters = await expectConsistent(funded);
      expect(counters).to.include({ holdCount: 0, usageCount: AWKWARD_IDS.length, unsettled: 70n });
    });

    it("a request id JSON cannot carry (a lone surrogate) fails the group statement; one by one, all pass", async () => {
      const ledger = ledgerOnClient();
      const funded = await fundedKey(db, 1n);
      const requests = [`req-lone-\ud800-${Date.now()}`, `req-fine-${Date.now()}`].map((requestId) =>
        holdRequest(funded, 1_000n, { requestId }),
      );
      const holds = await Promise.all(requests.map((request) => reserved(ledger, request)));
      await Promise.all(requests.map((request, index) => ledger.commit(usageFor(request, holds[index], 7n))));
      expect(statements).to.deep.equal([
        "ledger_reserve_hold_batch",
        "ledger_reserve_hold",
        "ledger_reserve_hold",
        "ledger_commit_usage_batch",
        "ledger_commit_usage",
        "ledger_commit_usage",
      ]);
      const counters = await expectConsistent(funded);
      expect(counters).to.include({ holdCount: 0, usageCount: 2, unsettled: 14n });
    });

    it("holds and charges amounts near numeric(78,0)'s limit, to the micro unit", async () => {
      const ledger = ledgerOnClient();
      const TEN_TO_THE_77 = 10n ** 77n;
      // 10^71 base units = 10^77 micro units spendable; numeric(78,0) holds up to 10^78 − 1.
      const funded = await fundedKey(db, 10n ** 71n, { totalSpendCapBase: 10n ** 71n });
      const amounts = [TEN_TO_THE_77 / 2n, TEN_TO_THE_77 / 2n - 1n, 1n, 1n];
      const requests = amounts.map((amount) => holdRequest(funded, amount));
      const results = await Promise.all(requests.map((request) => ledger.reserve(request)));
      expect(statements).to.deep.equal(["ledger_reserve_hold_batch"]);
      expect(results.map((result) => result.ok)).to.deep.equal([true, true, true, false]);
      expect(results[3]).to.deep.equal({
        ok: false,
        refusal: { reason: "total_spend_cap", remainingMicros: 0n, neededMicros: 1n },
      });
      expect(await ledgerCounters(db, funded.account, funded.key.id)).to.include({
        accountHeld: TEN_TO_THE_77,
        keyHeld: TEN_TO_THE_77,
      });

      const costs = [TEN_TO_THE_77 / 2n + 12_345n, 987_654_321_987_654_321n, 0n];
      await Promise.all(
        costs.map((cost, index) => {
          const result = results[index];
          if (!result.ok) throw new Error("expected a hold");
          return ledger.commit(usageFor(requests[index], result.hold, cost));
        }),
      );
      expect(statements.slice(1)).to.deep.equal(["ledger_commit_usage_batch"]);
      const counters = await expectConsistent(funded);
      const charged = costs.reduce((sum, cost) => sum + cost, 0n);
      expect(counters).to.include({ accountHeld: 0n, unsettled: charged, keySpent: charged, usageCount: 3 });

      // A refusal's figure comes back exactly, however large: here the whole deposit less what was charged.
      const rich = await fundedKey(db, 10n ** 71n);
      expect(await ledger.reserve(holdRequest(rich, TEN_TO_THE_77 + 1n))).to.deep.equal({
        ok: false,
        refusal: { reason: "insufficient_balance", spendableMicros: TEN_TO_THE_77, neededMicros: TEN_TO_THE_77 + 1n },
      });
    });
  });
});
