import { expect } from "chai";
import { MODEL, recordUsage, startWebHarness, type RecordedRequest, type WebHarness } from "./support/webHarness";
import type { Browser } from "./support/browser";

const DAY_MS = 86_400_000;
const OTHER_MODEL = "shareai/other-1";

describe("web API: usage history, CSV export and daily chart", () => {
  let harness: WebHarness;
  let alice: { browser: Browser; address: string };
  let bob: { browser: Browser; address: string };
  let laptop: string;
  let server: string;
  let bobKey: string;
  /** Alice's requests, newest first. */
  let history: Array<RecordedRequest & { keyId: string; modelId: string }>;
  const now = Date.now();
  const todayStart = Math.floor(now / DAY_MS) * DAY_MS;

  before(async () => {
    harness = await startWebHarness();
    await harness.db.models.upsert(MODEL);
    await harness.db.models.upsert({ ...MODEL, id: OTHER_MODEL });
    alice = await harness.signedIn();
    bob = await harness.signedIn();
    laptop = (await alice.browser.post("/api/keys", { name: "laptop" })).body.key.id;
    server = (await alice.browser.post("/api/keys", { name: '=HYPERLINK("x"), server' })).body.key.id;
    bobKey = (await bob.browser.post("/api/keys", { name: "bob" })).body.key.id;
    await harness.db.accounts.setOnChainBalance(alice.address, 100_000_000n, 5_000_000n);
    await harness.db.accounts.setOnChainBalance(bob.address, 100_000_000n, 0n);

    // Oldest first, as a ledger would record them; two share one instant to test the tie-break.
    const plan: Array<{ daysAgo: number; minutes: number; keyId: string; modelId: string; costMicros: bigint }> = [
      { daysAgo: 9, minutes: 10, keyId: laptop, modelId: MODEL.id, costMicros: 1_000_000n },
      { daysAgo: 5, minutes: 20, keyId: server, modelId: OTHER_MODEL, costMicros: 250_000n },
      { daysAgo: 2, minutes: 30, keyId: laptop, modelId: MODEL.id, costMicros: 3_000_001n },
      { daysAgo: 2, minutes: 30, keyId: server, modelId: MODEL.id, costMicros: 7n },
      { daysAgo: 1, minutes: 40, keyId: server, modelId: OTHER_MODEL, costMicros: 12_345_678_901n },
      { daysAgo: 0, minutes: 1, keyId: laptop, modelId: MODEL.id, costMicros: 500_000n },
      { daysAgo: 0, minutes: 2, keyId: laptop, modelId: OTHER_MODEL, costMicros: 600_000n },
    ];
    const recorded = [];
    for (const step of plan) {
      const at = new Date(todayStart - step.daysAgo * DAY_MS + step.minutes * 60_000);
      const request = await recordUsage(harness, { account: alice.address, ...step, at });
      recorded.push({ ...request, keyId: step.keyId, modelId: step.modelId });
    }
    history = recorded.sort((a, b) => b.at.getTime() - a.at.getTime() || (a.requestId < b.requestId ? 1 : -1));
    await recordUsage(harness, {
      account: bob.address,
      keyId: bobKey,
      modelId: MODEL.id,
      costMicros: 99n,
      at: new Date(todayStart),
    });
  });

  after(async () => {
    await harness.close();
  });

  async function allPages(browser: Browser, query: string, limit: number) {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: any = await browser.get(`/api/usage?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status, page.text).to.equal(200);
      expect(page.body.data.length).to.be.at.most(limit);
      ids.push(...page.body.data.map((r: { request_id: string }) => r.request_id));
      expect(page.body.has_more).to.equal(page.body.next_cursor !== null);
      cursor = page.body.next_cursor;
      pages += 1;
    } while (cursor);
    return { ids, pages };
  }

  describe("GET /api/usage", () => {
    it("pages through the account's records newest first, each exactly once, ties included", async () => {
      for (const limit of [1, 2, 3, 7, 50]) {
        const { ids, pages } = await allPages(alice.browser, "", limit);
        expect(ids, `limit ${limit}`).to.deep.equal(history.map((r) => r.requestId));
        expect(pages).to.equal(Math.max(1, Math.ceil(history.length / limit)));
      }
    });

    it("shows each record with its key, model, tokens and exact cost", async () => {
      const page = await alice.browser.get("/api/usage?limit=50");
      const big = page.body.data.find((r: { cost: { micros: string } }) => r.cost.micros === "12345678901");
      expect(big).to.deep.include({
        model: OTHER_MODEL,
        prompt_tokens: 10,
        completion_tokens: 20,
        estimated: false,
        outcome: "completed",
        stream: false,
        latency_ms: 42,
      });
      expect(big.cost).to.deep.equal({ micros: "12345678901", base: "12345.678901", usdc: "0.012345678901" });
      expect(big.key).to.deep.include({ id: server });
      expect(big.created_at).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    });

    it("filters by key, model and time (from inclusive, to exclusive; a day as `to` includes that day)", async () => {
      const only = (predicate: (r: (typeof history)[number]) => boolean) =>
        history.filter(predicate).map((r) => r.requestId);
      expect((await allPages(alice.browser, `&keyId=${server}`, 2)).ids).to.deep.equal(only((r) => r.keyId === server));
      expect((await allPages(alice.browser, `&model=${encodeURIComponent(OTHER_MODEL)}`, 2)).ids).to.deep.equal(
        only((r) => r.modelId === OTHER_MODEL)
      );
      const from = new Date(todayStart - 2 * DAY_MS + 30 * 60_000);
      const to = new Date(todayStart + 60_000);
      expect(
        (await allPages(alice.browser, `&from=${from.toISOString()}&to=${to.toISOString()}`, 2)).ids
      ).to.deep.equal(only((r) => r.at >= from && r.at < to));
      const day = new Date(todayStart - 2 * DAY_MS).toISOString().slice(0, 10);
      expect((await allPages(alice.browser, `&from=${day}&to=${day}`, 10)).ids).to.have.length(2);
      expect(
        (await allPages(alice.browser, `&keyId=${laptop}&model=${encodeURIComponent(MODEL.id)}`, 10)).ids
      ).to.deep.equal(only((r) => r.keyId === laptop && r.modelId === MODEL.id));
    });

    it("shows an account only its own records, whatever the filter", async () => {
      const bobs = await allPages(bob.browser, "", 50);
      expect(bobs.ids).to.have.length(1);
      expect((await allPages(bob.browser, `&keyId=${laptop}`, 50)).ids).to.deep.equal([]);
      expect((await allPages(alice.browser, `&keyId=${bobKey}`, 50)).ids).to.deep.equal([]);
    });

    it("refuses bad parameters with 400 naming them", async () => {
      const cases: Array<[string, string]> = [
        ["cursor=garbage", "cursor"],
        [`cursor=${Buffer.from(JSON.stringify(["yesterday", "x"])).toString("base64url")}`, "cursor"],
        ["limit=0", "limit"],
        ["limit=201", "limit"],
        ["limit=ten", "limit"],
        ["keyId=abc", "keyId"],
        ["from=notadate", "from"],
        ["from=2026-02-01&to=2026-01-01", "from"],
        ["page=2", ""],
        ["limit=1&limit=2", "limit"],
      ];
      for (const [query, param] of cases) {
        const response = await alice.browser.get(`/api/usage?${query}`);
        expect(response.status, query).to.equal(400);
        expect(response.body.error.code).to.equal("invalid_request_error");
        if (param) expect(response.body.error.param, query).to.equal(param);
      }
    });
  });

  describe("GET /api/usage.csv", () => {
    it("exports the filtered records as CSV, newest first, with exact amounts and defused formulas", async () => {
      const response = await alice.browser.get(`/api/usage.csv?keyId=${server}`);
      expect(response.status).to.equal(200);
      expect(response.headers.get("content-type")).to.equal("text/csv; charset=utf-8");
      expect(response.headers.get("content-disposition")).to.equal(
        `attachment; filename="shareai-usage-${alice.address}.csv"`
      );
      const lines = response.text.split("\r\n");
      expect(lines.pop()).to.equal("");
      expect(lines[0]).to.equal(
        "request_id,created_at,key_id,key_name,key_prefix,model,provider_address,prompt_tokens,completion_tokens,cached_prompt_tokens,reasoning_tokens,cost_micros,cost_base,cost_usdc,estimated,outcome,stream,latency_ms"
      );
      const expected = history.filter((r) => r.keyId === server);
      expect(lines.slice(1).map((line) => line.split(",")[0])).to.deep.equal(expected.map((r) => r.requestId));
      expect(lines[1]).to.include(`"'=HYPERLINK(""x""), server"`);
      expect(lines.find((line) => line.includes(",12345678901,"))).to.include(
        ",12345678901,12345.678901,0.012345678901,"
      );
    });

    it("streams exports longer than one batch, every record once", async function () {
      this.timeout(120_000);
      const { browser, address } = await harness.signedIn();
      const keyId = (await browser.post("/api/keys", { name: "bulk" })).body.key.id;
      await harness.db.accounts.setOnChainBalance(address, 1_000_000n, 0n);
      const at = new Date();
      const count = 1234;
      for (let start = 0; start < count; start += 100) {
        await Promise.all(
          Array.from({ length: Math.min(100, count - start) }, () =>
            recordUsage(harness, { account: address, keyId, modelId: MODEL.id, costMicros: 1n, at })
          )
        );
      }
      const response = await browser.get("/api/usage.csv");
      const rows = response.text.trim().split("\r\n").slice(1);
      expect(rows).to.have.length(count);
      expect(new Set(rows.map((row) => row.split(",")[0])).size).to.equal(count);
    });

    it("needs a session and valid filters", async () => {
      expect((await harness.browser().get("/api/usage.csv")).status).to.equal(401);
      expect((await alice.browser.get("/api/usage.csv?keyId=zzz")).status).to.equal(400);
    });
  });

  describe("GET /api/usage/daily", () => {
    it("gives every day up to today, oldest first, with zeros where nothing was spent", async () => {
      const response = await alice.browser.get("/api/usage/daily?days=10");
      expect(response.status).to.equal(200);
      const { data, days, total } = response.body;
      expect(days).to.equal(10);
      expect(data).to.have.length(10);
      expect(data[9].date).to.equal(new Date(todayStart).toISOString().slice(0, 10));
      expect(data[0].date).to.equal(new Date(todayStart - 9 * DAY_MS).toISOString().slice(0, 10));
      const byDaysAgo = (n: number) => data[9 - n];
      expect(byDaysAgo(0).cost.micros).to.equal("1100000");
      expect(byDaysAgo(0).requests).to.equal(2);
      expect(byDaysAgo(1).cost.micros).to.equal("12345678901");
      expect(byDaysAgo(2).cost.micros).to.equal("3000008");
      expect(byDaysAgo(2)).to.include({ requests: 2, prompt_tokens: 20, completion_tokens: 40 });
      expect(byDaysAgo(3)).to.deep.include({ requests: 0, cost: { micros: "0", base: "0", usdc: "0" } });
      expect(byDaysAgo(9).cost.micros).to.equal("1000000");
      const sum = history.reduce((acc, r) => acc + r.costMicros, 0n);
      expect(total.micros).to.equal(sum.toString());
    });

    it("defaults to 30 days, filters by key or model, and refuses out-of-range days", async () => {
      expect((await alice.browser.get("/api/usage/daily")).body.data).to.have.length(30);
      const short = await alice.browser.get("/api/usage/daily?days=3");
      expect(short.body.total.micros).to.equal((1_100_000n + 12_345_678_901n + 3_000_008n).toString());
      const byModel = await alice.browser.get(`/api/usage/daily?days=3&model=${encodeURIComponent(OTHER_MODEL)}`);
      expect(byModel.body.total.micros).to.equal((600_000n + 12_345_678_901n).toString());
      const byKey = await alice.browser.get(`/api/usage/daily?days=3&keyId=${server}`);
      expect(byKey.body.total.micros).to.equal((12_345_678_901n + 7n).toString());
      for (const days of ["0", "367", "-1", "x"]) {
        expect((await alice.browser.get(`/api/usage/daily?days=${days}`)).status, days).to.equal(400);
      }
    });
  });
});
