import { expect } from "chai";
import type { Database } from "../../../server/persistence";
import {
  expectRejection,
  fundedKey,
  holdRequest,
  ledgerCounters,
  openTestDatabase,
  reserveOrFail,
  usageFor,
  type FundedKey,
  type OpenedTestDatabase,
} from "./fixtures";

const MICROS = 1_000_000n;

describe("PostgresLedger", () => {
  let opened: OpenedTestDatabase;
  let db: Database;

  before(async () => {
    opened = await openTestDatabase();
    db = opened.db;
  });

  after(async () => {
    await opened.closeAll();
  });

  async function expectConsistent(funded: FundedKey) {
    const counters = await ledgerCounters(db, funded.account, funded.key.id);
    expect(counters.accountHeld, "account held = Σ holds").to.equal(counters.holdsSum);
    expect(counters.keyHeld, "key held = Σ its holds").to.equal(counters.keyHoldsSum);
    expect(counters.unsettled, "unsettled = Σ usage").to.equal(counters.usageSum);
    expect(counters.keySpent, "key spent = Σ its usage").to.equal(counters.keyUsageSum);
    return counters;
  }

  describe("reserve", () => {
    it("holds the amount, to the micro unit, and lowers what is spendable by it", async () => {
      const funded = await fundedKey(db, 5n);
      const request = holdRequest(funded, 1_234_567n);
      const hold = await reserveOrFail(db, request);

      expect(hold).to.include({ account: funded.account, keyId: funded.key.id, amountMicros: 1_234_567n });
      const balance = await db.accounts.getBalance(funded.account);
      expect(balance).to.include({ heldMicros: 1_234_567n, spendableMicros: 5n * MICROS - 1_234_567n });
      expect((await db.apiKeys.getSpend(funded.key.id))!.heldMicros).to.equal(1_234_567n);
      await expectConsistent(funded);
    });

    it("places a hold of exactly the spendable amount and refuses one micro more, saying why", async () => {
      const funded = await fundedKey(db, 3n);
      await reserveOrFail(db, holdRequest(funded, 3n * MICROS - 1n));
      const refused = await db.ledger.reserve(holdRequest(funded, 2n));
      expect(refused).to.deep.equal({
        ok: false,
        refusal: { reason: "insufficient_balance", spendableMicros: 1n, neededMicros: 2n },
      });
      await reserveOrFail(db, holdRequest(funded, 1n));
      expect((await db.accounts.getBalance(funded.account))!.spendableMicros).to.equal(0n);
      await expectConsistent(funded);
    });

    it("does not spend thawing funds", async () => {
      const funded = await fundedKey(db, 1n, {}, 1_000n);
      const refused = await db.ledger.reserve(holdRequest(funded, MICROS + 1n));
      expect(refused).to.deep.include({ ok: false });
      expect(await db.accounts.getBalance(funded.account)).to.include({
        onchainAvailableBase: 1n,
        onchainThawingBase: 1_000n,
        spendableMicros: MICROS,
      });
    });

    it("counts unsettled usage against the deposit", async () => {
      const funded = await fundedKey(db, 1n);
      const request = holdRequest(funded, 600_000n);
      const hold = await reserveOrFail(db, request);
      await db.ledger.commit(usageFor(request, hold, 700_000n));
      expect(await db.accounts.getBalance(funded.account)).to.include({
        unsettledMicros: 700_000n,
        heldMicros: 0n,
        spendableMicros: 300_000n,
      });
      expect(await db.ledger.reserve(holdRequest(funded, 300_001n))).to.deep.equal({
        ok: false,
        refusal: { reason: "insufficient_balance", spendableMicros: 300_000n, neededMicros: 300_001n },
      });
    });

    it("refuses an account with no deposit, but allows a free request", async () => {
      const funded = await fundedKey(db, 0n);
      expect(await db.ledger.reserve(holdRequest(funded, 1n))).to.deep.include({ ok: false });
      await reserveOrFail(db, holdRequest(funded, 0n));
    });

    it("stamps the hold with its expiry", async () => {
      const funded = await fundedKey(db, 1n);
      const before = Date.now();
      const hold = await reserveOrFail(db, holdRequest(funded, 1n, { ttlMs: 90_000 }));
      expect(hold.expiresAt.getTime()).to.be.within(before + 90_000, Date.now() + 90_000);
    });

    it("rejects a request id that already has a hold, and a key of another account", async () => {
      const funded = await fundedKey(db, 1n);
      const other = await fundedKey(db, 1n);
      const request = holdRequest(funded, 1n);
      await reserveOrFail(db, request);
      await expectRejection(db.ledger.reserve(request), /already has a hold/);
      await expectRejection(
        db.ledger.reserve(holdRequest(funded, 1n, { keyId: other.key.id })),
        /no balance or spend row/,
      );
      await expectRejection(db.ledger.reserve(holdRequest(funded, -1n)), /negative/);
      await expectConsistent(funded);
      await expectConsistent(other);
    });
  });

  describe("commit", () => {
    it("releases the hold and charges the cost, to the micro unit", async () => {
      const funded = await fundedKey(db, 10n);
      const request = holdRequest(funded, 4_000_000n);
      const hold = await reserveOrFail(db, request);
      await db.ledger.commit(usageFor(request, hold, 1_234_567n));

      expect(await db.accounts.getBalance(funded.account)).to.include({
        heldMicros: 0n,
        unsettledMicros: 1_234_567n,
        spendableMicros: 10n * MICROS - 1_234_567n,
      });
      expect(await db.apiKeys.getSpend(funded.key.id)).to.deep.include({
        heldMicros: 0n,
        totalSpentMicros: 1_234_567n,
        todaySpentMicros: 1_234_567n,
      });
      const counters = await expectConsistent(funded);
      expect(counters).to.include({ holdCount: 0, usageCount: 1 });
    });

    it("writes the usage record as given", async () => {
      const funded = await fundedKey(db, 1n);
      const request = holdRequest(funded, 1_000n);
      const hold = await reserveOrFail(db, request);
      await db.ledger.commit(
        usageFor(request, hold, 900n, {
          usage: { promptTokens: 7, completionTokens: 11 },
          cachedPromptTokens: 3,
          reasoningTokens: 5,
          estimated: true,
          outcome: "client_disconnected",
          stream: true,
          latencyMs: 41.6,
        }),
      );
      const [row] = await db.dataSource.query("SELECT * FROM usage_records WHERE request_id = $1", [request.requestId]);
      expect(row).to.include({
        account: funded.account,
        key_id: funded.key.id,
        model_id: request.modelId,
        prompt_tokens: 7,
        completion_tokens: 11,
        cached_prompt_tokens: 3,
        reasoning_tokens: 5,
        cost_micros: "900",
        estimated: true,
        outcome: "client_disconnected",
        stream: true,
        latency_ms: 42,
      });
    });

    it("charges the true cost when it exceeds the hold, and spendable shows 0 rather than a debt", async () => {
      const funded = await fundedKey(db, 1n);
      const request = holdRequest(funded, 500_000n);
      const hold = await reserveOrFail(db, request);
      await db.ledger.commit(usageFor(request, hold, 1_500_000n));
      expect(await db.accounts.getBalance(funded.account)).to.include({
        unsettledMicros: 1_500_000n,
        heldMicros: 0n,
        spendableMicros: 0n,
      });
      expect(await db.ledger.reserve(holdRequest(funded, 0n))).to.deep.equal({
        ok: false,
        refusal: { reason: "insufficient_balance", spendableMicros: 0n, neededMicros: 0n },
      });
      await expectConsistent(funded);
    });

    it("is idempotent by request id, also when the same commit races itself", async () => {
      const funded = await fundedKey(db, 1n);
      const request = holdRequest(funded, 800_000n);
      const hold = await reserveOrFail(db, request);
      const other = holdRequest(funded, 100_000n);
      await reserveOrFail(db, other);

      const usage = usageFor(request, hold, 300_000n);
      await Promise.all(Array.from({ length: 10 }, () => db.ledger.commit(usage)));
      await db.ledger.commit(usage);

      const counters = await expectConsistent(funded);
      expect(counters).to.include({ usageCount: 1, holdCount: 1, unsettled: 300_000n, accountHeld: 100_000n });
    });

    it("refuses to record usage of a key under another account", async () => {
      const funded = await fundedKey(db, 1n);
      const stranger = await fundedKey(db, 1n);
      const request = holdRequest(funded, 1_000n);
      const hold = await reserveOrFail(db, request);
      await expectRejection(
        db.ledger.commit(usageFor(request, hold, 1_000n, { account: stranger.account })),
        /is not a key of/,
      );
      await expectConsistent(funded);
      await expectConsistent(stranger);
    });
  });

  describe("release", () => {
    it("gives the hold back once, however often it is called", async () => {
      const funded = await fundedKey(db, 2n);
      const kept = await reserveOrFail(db, holdRequest(funded, 700_000n));
      const released = await reserveOrFail(db, holdRequest(funded, 500_000n));

      await Promise.all([db.ledger.release(released.id), db.ledger.release(released.id)]);
      await db.ledger.release(released.id);

      expect(await db.accounts.getBalance(funded.account)).to.include({
        heldMicros: kept.amountMicros,
        spendableMicros: 2n * MICROS - kept.amountMicros,
      });
      await expectConsistent(funded);
    });

    it("does nothing after the commit, and a commit after a release still charges without giving back twice", async () => {
      const funded = await fundedKey(db, 2n);
      const committedFirst = holdRequest(funded, 400_000n);
      const committedHold = await reserveOrFail(db, committedFirst);
      await db.ledger.commit(usageFor(committedFirst, committedHold, 100_000n));
      await db.ledger.release(committedHold.id);

      const releasedFirst = holdRequest(funded, 400_000n);
      const releasedHold = await reserveOrFail(db, releasedFirst);
      await db.ledger.release(releasedHold.id);
      await db.ledger.commit(usageFor(releasedFirst, releasedHold, 250_000n));

      const counters = await expectConsistent(funded);
      expect(counters).to.include({ accountHeld: 0n, unsettled: 350_000n, usageCount: 2, holdCount: 0 });
    });
  });

  describe("extend", () => {
    async function expiryOf(holdId: string): Promise<number | null> {
      const [row] = await db.dataSource.query(`SELECT expires_at FROM holds WHERE id = $1`, [holdId]);
      return row ? new Date(row.expires_at).getTime() : null;
    }

    it("pushes a hold's expiry on, never back, and keeps the sweeper off it", async () => {
      const funded = await fundedKey(db, 1n);
      const hold = await reserveOrFail(db, holdRequest(funded, 1n, { ttlMs: 60_000 }));
      const placed = (await expiryOf(hold.id))!;

      expect(await db.ledger.extend(hold.id, 600_000)).to.equal(true);
      const extended = (await expiryOf(hold.id))!;
      expect(extended).to.be.at.least(placed + 500_000);

      expect(await db.ledger.extend(hold.id, 1_000), "a shorter extension").to.equal(true);
      expect(await expiryOf(hold.id), "never earlier").to.equal(extended);

      // The sweeper at the hold's first expiry leaves it alone.
      await db.ledger.sweepExpiredHolds(new Date(placed + 1));
      expect(await expiryOf(hold.id)).to.equal(extended);
      await expectConsistent(funded);
    });

    it("finds nothing to extend once the hold was committed or released", async () => {
      const funded = await fundedKey(db, 1n);
      const request = holdRequest(funded, 1n);
      const hold = await reserveOrFail(db, request);
      await db.ledger.release(hold.id);
      expect(await db.ledger.extend(hold.id, 600_000)).to.equal(false);
      await expectConsistent(funded);
    });
  });

  describe("spend caps", () => {
    it("refuses a hold beyond the key's daily cap, counting its holds and today's spend", async () => {
      const funded = await fundedKey(db, 100n, { dailySpendCapBase: 2n });
      const first = holdRequest(funded, 1_500_000n);
      const firstHold = await reserveOrFail(db, first);
      await db.ledger.commit(usageFor(first, firstHold, 1_000_000n));
      await reserveOrFail(db, holdRequest(funded, 600_000n));

      expect(await db.ledger.reserve(holdRequest(funded, 400_001n))).to.deep.equal({
        ok: false,
        refusal: { reason: "daily_spend_cap", remainingMicros: 400_000n, neededMicros: 400_001n },
      });
      await reserveOrFail(db, holdRequest(funded, 400_000n));
      await expectConsistent(funded);
    });

    it("refuses a hold beyond the key's total cap", async () => {
      const funded = await fundedKey(db, 100n, { totalSpendCapBase: 1n });
      const request = holdRequest(funded, 900_000n);
      const hold = await reserveOrFail(db, request);
      await db.ledger.commit(usageFor(request, hold, 900_000n));
      expect(await db.ledger.reserve(holdRequest(funded, 100_001n))).to.deep.equal({
        ok: false,
        refusal: { reason: "total_spend_cap", remainingMicros: 100_000n, neededMicros: 100_001n },
      });
    });

    it("names the daily cap before the total cap before the balance when several refuse", async () => {
      const funded = await fundedKey(db, 1n, { dailySpendCapBase: 1n, totalSpendCapBase: 1n });
      const refused = await db.ledger.reserve(holdRequest(funded, 2n * MICROS));
      expect(refused).to.deep.include({ ok: false });
      expect(!refused.ok && refused.refusal.reason).to.equal("daily_spend_cap");
      await db.apiKeys.update(funded.key.id, { dailySpendCapBase: null });
      const next = await db.ledger.reserve(holdRequest(funded, 2n * MICROS));
      expect(!next.ok && next.refusal.reason).to.equal("total_spend_cap");
    });

    it("caps one key without touching the account's other keys", async () => {
      const funded = await fundedKey(db, 10n, { dailySpendCapBase: 1n });
      const { apiKey: uncapped } = await db.apiKeys.create({ account: funded.account, name: "uncapped" });
      expect(await db.ledger.reserve(holdRequest(funded, 2n * MICROS))).to.deep.include({ ok: false });
      await reserveOrFail(db, holdRequest(funded, 2n * MICROS, { keyId: uncapped.id }));
    });
  });

  describe("the daily cap with a clock", () => {
    let clockTime: Date;
    let clocked: Database;

    before(async () => {
      clocked = await opened.openInstance({ clock: () => clockTime });
    });

    it("starts counting afresh on each UTC day, while in-flight holds still count", async () => {
      clockTime = new Date("2026-03-01T23:59:00Z");
      const funded = await fundedKey(clocked, 100n, { dailySpendCapBase: 1n });
      const spent = holdRequest(funded, 800_000n);
      await clocked.ledger.commit(usageFor(spent, await reserveOrFail(clocked, spent), 800_000n));
      const inFlight = await reserveOrFail(clocked, holdRequest(funded, 100_000n));
      expect(await clocked.ledger.reserve(holdRequest(funded, 100_001n))).to.deep.include({ ok: false });

      clockTime = new Date("2026-03-02T00:00:01Z");
      expect(await clocked.ledger.reserve(holdRequest(funded, 900_001n))).to.deep.equal({
        ok: false,
        refusal: { reason: "daily_spend_cap", remainingMicros: 900_000n, neededMicros: 900_001n },
      });
      await reserveOrFail(clocked, holdRequest(funded, 900_000n));
      expect((await clocked.apiKeys.getSpend(funded.key.id))!.todaySpentMicros).to.equal(0n);
      await clocked.ledger.release(inFlight.id);
    });

    it("does not let an instance whose clock is a day behind reset today's count", async () => {
      clockTime = new Date("2026-04-02T10:00:00Z");
      const funded = await fundedKey(clocked, 100n, { dailySpendCapBase: 1n });
      const today = holdRequest(funded, 500_000n);
      await clocked.ledger.commit(usageFor(today, await reserveOrFail(clocked, today), 500_000n));

      clockTime = new Date("2026-04-01T23:59:59Z");
      const late = holdRequest(funded, 300_000n);
      await clocked.ledger.commit(usageFor(late, await reserveOrFail(clocked, late), 300_000n));

      clockTime = new Date("2026-04-02T10:00:01Z");
      expect((await clocked.apiKeys.getSpend(funded.key.id))!.todaySpentMicros).to.equal(800_000n);
    });
  });
});
