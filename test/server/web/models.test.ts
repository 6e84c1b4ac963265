import { expect } from "chai";
import { MODEL, startWebHarness, type WebHarness } from "./support/webHarness";

describe("web API: public model catalog", () => {
  let harness: WebHarness;

  before(async () => {
    harness = await startWebHarness();
    const { db } = harness;
    await db.models.upsert(MODEL);
    await db.models.upsert({ ...MODEL, id: "shareai/two", promptRatePerMTok: 1n, completionRatePerMTok: 1_500_001n });
    await db.models.upsert({ ...MODEL, id: "shareai/orphan" });
    await db.models.upsert({ ...MODEL, id: "shareai/disabled", enabled: false });
    const p1 = await db.providers.create({ payoutAddress: `0x${"1".repeat(40)}`, name: "one" });
    const p2 = await db.providers.create({ payoutAddress: `0x${"2".repeat(40)}`, name: "two" });
    const up = (checkedAt: Date) => ({ up: true, checkedAt, latencyMs: 3, httpStatus: 200, error: null });
    const now = new Date();
    const a = await db.providers.addUpstream({
      providerId: p1.id,
      baseUrl: "http://127.0.0.1:9/v1",
      models: { [MODEL.id]: "m" },
    });
    const b = await db.providers.addUpstream({
      providerId: p1.id,
      baseUrl: "http://127.0.0.1:10/v1",
      models: { [MODEL.id]: "m", "shareai/two": "t" },
    });
    const c = await db.providers.addUpstream({
      providerId: p2.id,
      baseUrl: "http://127.0.0.1:11/v1",
      models: { [MODEL.id]: "m" },
      enabled: false,
    });
    const d = await db.providers.addUpstream({
      providerId: p2.id,
      baseUrl: "http://127.0.0.1:12/v1",
      models: { "shareai/two": "t", "shareai/disabled": "d" },
    });
    const e = await db.providers.addUpstream({
      providerId: p2.id,
      baseUrl: "http://127.0.0.1:13/v1",
      models: { [MODEL.id]: "m" },
    });
    const f = await db.providers.addUpstream({
      providerId: p2.id,
      baseUrl: "http://127.0.0.1:14/v1",
      models: { [MODEL.id]: "m" },
    });
    // Up: a, b, d; disabled though up: c; down: e; up, but so long ago that no gateway checks it any more: f.
    for (const upstream of [a, b, c, d]) await db.upstreamHealth.record(upstream.id, up(now));
    await db.upstreamHealth.record(e.id, { up: false, checkedAt: now, latencyMs: 5, httpStatus: 503, error: "HTTP 503" });
    await db.upstreamHealth.record(f.id, up(new Date(now.getTime() - 3_600_000)));
    // g is never checked at all (just added, no gateway has probed it yet).
    await db.providers.addUpstream({ providerId: p2.id, baseUrl: "http://127.0.0.1:15/v1", models: { [MODEL.id]: "m" } });
  });

  after(async () => {
    await harness.close();
  });

  it("lists enabled models with exact prices and how many providers are online for each (enabled, found up by a recent health check), without a session", async () => {
    const response = await harness.browser().get("/api/models");
    expect(response.status).to.equal(200);
    const byId = Object.fromEntries(response.body.data.map((m: { id: string }) => [m.id, m]));
    expect(Object.keys(byId).sort()).to.deep.equal([MODEL.id, "shareai/orphan", "shareai/two"].sort());
    expect(byId[MODEL.id]).to.deep.include({ providers_online: 1, upstreams_online: 2, context_length: 8192 });
    expect(byId[MODEL.id].pricing).to.deep.equal({
      prompt_per_mtok_base: "250000",
      completion_per_mtok_base: "1000000",
      prompt_per_mtok_usdc: "0.25",
      completion_per_mtok_usdc: "1",
    });
    expect(byId["shareai/two"]).to.deep.include({ providers_online: 2, upstreams_online: 2 });
    expect(byId["shareai/two"].pricing.completion_per_mtok_usdc).to.equal("1.500001");
    expect(byId["shareai/orphan"]).to.deep.include({ providers_online: 0, upstreams_online: 0 });
  });
});
