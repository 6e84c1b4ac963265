import { expect } from "chai";
import { APIError } from "openai";
import type { ModelDetails } from "../../server/persistence/models/modelRepository";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { MockUpstream } from "../support/mockUpstream";
import { type SystemGateway, requestsCounted, startSystemGateway } from "../support/systemGateway";
import { UpstreamGate } from "./support/upstreamGate";
import {
  MICROS_PER_BASE,
  addModel,
  addProvider,
  expectSettledLedger,
  fundedKey,
  eventually,
  holdFor,
  sdk,
  usageRecords,
} from "./support/world";

/**
 * DESIGN.md: "No number of concurrent requests, on any number of gateway
 * instances, can spend more than the deposit." 200 simultaneous SDK requests
 * against a balance that covers exactly 20 worst-case holds, through one
 * gateway and then through two gateway instances (two pools, two apps) on one
 * database.
 */
describe("system: 200 simultaneous requests against a balance that covers 20", function () {
  this.timeout(60_000);

  const REQUESTS = 200;
  const COVERED = 20n;
  const env = { UPSTREAM_FIRST_BYTE_TIMEOUT_MS: "30000", HOLD_TTL_MS: "60000" };

  let testDb: TestDatabase;
  let mock: MockUpstream;
  let gate: UpstreamGate;
  let first: SystemGateway;
  let second: SystemGateway;
  let model: ModelDetails;

  before(async () => {
    testDb = await createTestDatabase();
    mock = await MockUpstream.start();
    gate = await UpstreamGate.start(mock.baseUrl);
    first = await startSystemGateway({
      databaseUrl: testDb.url,
      env,
      beforeStart: async (db) => {
        model = await addModel(db);
        await addProvider(db, gate.baseUrl, [model.id]);
      },
    });
    second = await startSystemGateway({ databaseUrl: testDb.url, env });
  });

  after(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    await gate?.close();
    await mock?.close();
    await testDb?.drop();
  });

  async function raceAgainstOneBalance(gateways: SystemGateway[]) {
    const body = {
      model: model.id,
      messages: [{ role: "user" as const, content: "spend it all at once" }],
      max_tokens: 16,
    };
    const hold = holdFor(body, model);
    // The smallest whole number of base units that covers 20 holds; it cannot cover 21.
    const balanceBase = (COVERED * hold + MICROS_PER_BASE - 1n) / MICROS_PER_BASE;
    const balanceMicros = balanceBase * MICROS_PER_BASE;
    expect(balanceMicros >= COVERED * hold && balanceMicros < (COVERED + 1n) * hold).to.equal(true);
    const funded = await fundedKey(first.db, balanceBase);
    const clients = gateways.map((g) => sdk(g.url, funded.secret, { maxRetries: 0 }));
    const upstreamBefore = mock.chatRequests.length;
    gate.reset();

    // The upstream answers nothing until every request has been refused or is waiting upstream with its
    // hold: all holds are asked for before any is billed (and its unused part given back), so "exactly 20"
    // is the only right answer, not merely "at most 20".
    let settled = 0;
    const pending = Promise.all(
      Array.from({ length: REQUESTS }, (_, i) =>
        clients[i % clients.length].chat.completions
          .create(body)
          .then(
            (completion) => ({ status: 200, code: null as string | null | undefined, completion }),
            (error: unknown) => {
              if (!(error instanceof APIError)) throw error;
              return { status: error.status as number, code: error.code, completion: null };
            },
          )
          .finally(() => (settled += 1)),
      ),
    );
    const decided = await eventually(
      async () => settled + gate.waiting,
      (n) => n >= REQUESTS,
      30_000,
      20,
    );
    expect(decided, "requests refused or waiting upstream").to.equal(REQUESTS);
    expect(gate.waiting, "requests admitted (holding their worst case)").to.be.at.most(Number(COVERED));
    gate.open();
    const outcomes = await pending;

    const served = outcomes.filter((o) => o.status === 200);
    const refused = outcomes.filter((o) => o.status !== 200);
    expect(served.length, "served").to.be.at.most(Number(COVERED));
    // The mock reports less than the hold, so every admitted request is served.
    expect(served.length, "served").to.equal(Number(COVERED));
    expect(new Set(refused.map((o) => `${o.status} ${o.code}`))).to.deep.equal(new Set(["402 insufficient_balance"]));
    expect(mock.chatRequests.length - upstreamBefore, "requests that reached the upstream").to.equal(Number(COVERED));

    const records = await usageRecords(first.db, { account: funded.account });
    expect(records).to.have.length(served.length);
    const spent = records.reduce((sum, r) => sum + r.costMicros, 0n);
    expect(spent <= balanceMicros, `spent ${spent} > balance ${balanceMicros}`).to.equal(true);
    for (const record of records) expect(record.costMicros <= hold).to.equal(true);
    const state = await expectSettledLedger(first.db, funded.account);
    expect(state.usageSum).to.equal(spent);
    return { served: served.length };
  }

  it("one gateway instance: exactly 20 served, 180 × 402, spend ≤ balance, no hold left", async () => {
    await raceAgainstOneBalance([first]);
  });

  it("two gateway instances on one database, splitting the requests: the same guarantees", async () => {
    const answered = (g: SystemGateway) =>
      Promise.all([200, 402].map((status) => requestsCounted(g, "/v1/chat/completions", status))).then(
        ([ok, refused]) => ok + refused,
      );
    const before = await Promise.all([first, second].map(answered));
    await raceAgainstOneBalance([first, second]);
    const after = await Promise.all([first, second].map(answered));
    expect(after.map((n, i) => n - before[i]), "requests answered by each instance").to.deep.equal([
      REQUESTS / 2,
      REQUESTS / 2,
    ]);
  });
});
