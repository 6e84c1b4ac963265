import { expect } from "chai";
import { MODEL, recordUsage, startWebHarness, type WebHarness } from "./support/webHarness";

describe("web API: API keys", () => {
  let harness: WebHarness;

  before(async () => {
    harness = await startWebHarness();
    await harness.db.models.upsert(MODEL);
    await harness.db.models.upsert({ ...MODEL, id: "shareai/other-1" });
  });

  after(async () => {
    await harness.close();
  });

  async function v1Models(secret: string) {
    return fetch(`${harness.serverUrl}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
  }

  it("creates a key, shows its secret once with SDK snippets, and the secret works on /v1", async () => {
    const { browser, address } = await harness.signedIn();
    const created = await browser.post("/api/keys", {
      name: "laptop",
      allowed_models: [MODEL.id],
      daily_spend_cap_base: "5000000",
      requests_per_minute: 60,
    });
    expect(created.status, created.text).to.equal(201);
    expect(created.headers.get("cache-control")).to.equal("no-store");
    const { key, secret, base_url, snippets } = created.body;
    expect(secret).to.match(/^sk-shareai-[A-Za-z0-9_-]{43}$/);
    expect(base_url).to.equal(`${harness.origin}/v1`);
    expect(snippets.python).to.include(`base_url="${harness.origin}/v1"`).and.include(secret).and.include(MODEL.id);
    expect(snippets.javascript).to.include(`baseURL: "${harness.origin}/v1"`).and.include(secret);
    expect(snippets.curl).to.include(`${harness.origin}/v1/chat/completions`);
    expect(key).to.deep.include({
      name: "laptop",
      prefix: secret.slice(0, 15),
      allowed_models: [MODEL.id],
      requests_per_minute: 60,
      tokens_per_minute: null,
      total_spend_cap: null,
      revoked: false,
      revoked_at: null,
      last_used_at: null,
    });
    expect(key.daily_spend_cap).to.deep.equal({ micros: "5000000000000", base: "5000000", usdc: "5" });
    expect(key.spend.today).to.deep.equal({ micros: "0", base: "0", usdc: "0" });

    const stored = await harness.db.apiKeys.get(key.id);
    expect(stored).to.include({ account: address, dailySpendCapBase: 5_000_000n });

    const models = await v1Models(secret);
    expect(models.status).to.equal(200);
    expect(((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id)).to.deep.equal([MODEL.id]);

    const listed = await browser.get("/api/keys");
    expect(listed.status).to.equal(200);
    expect(listed.body.data.map((k: { id: string }) => k.id)).to.deep.equal([key.id]);
    expect(listed.text, "the secret is never listed").to.not.include(secret);
  });

  it("lists newest first with spend today and in total", async () => {
    const { browser, address } = await harness.signedIn();
    const first = (await browser.post("/api/keys", { name: "first" })).body.key;
    const second = (await browser.post("/api/keys", { name: "second" })).body.key;
    await harness.db.accounts.setOnChainBalance(address, 10_000_000n, 0n);
    // In time order, as the ledger sees it: the day counter follows the newest day written.
    await recordUsage(harness, {
      account: address,
      keyId: second.id,
      modelId: MODEL.id,
      costMicros: 2_000_000n,
      at: new Date(Date.now() - 3 * 86_400_000),
    });
    await recordUsage(harness, {
      account: address,
      keyId: second.id,
      modelId: MODEL.id,
      costMicros: 1_500_000n,
      at: new Date(),
    });
    const listed = (await browser.get("/api/keys")).body.data;
    expect(listed.map((k: { name: string }) => k.name)).to.deep.equal(["second", "first"]);
    expect(listed[0].spend.total).to.deep.equal({ micros: "3500000", base: "3.5", usdc: "0.0000035" });
    expect(listed[0].spend.today.micros).to.equal("1500000");
    expect(listed[1].spend.total.micros).to.equal("0");
    expect(first.id).to.be.a("string");
  });

  it("edits a key's name, limits and models; null lifts a limit", async () => {
    const { browser } = await harness.signedIn();
    const { key } = (
      await browser.post("/api/keys", { name: "ci", total_spend_cap_base: "100", tokens_per_minute: 1000 })
    ).body;
    const patched = await browser.patch(`/api/keys/${key.id}`, {
      name: "ci runner",
      total_spend_cap_base: null,
      daily_spend_cap_base: "42",
      allowed_models: ["shareai/other-1"],
    });
    expect(patched.status, patched.text).to.equal(200);
    expect(patched.body).to.deep.include({
      name: "ci runner",
      total_spend_cap: null,
      tokens_per_minute: 1000,
      allowed_models: ["shareai/other-1"],
    });
    expect(patched.body.daily_spend_cap.base).to.equal("42");
    expect(await harness.db.apiKeys.get(key.id)).to.include({
      name: "ci runner",
      totalSpendCapBase: null,
      dailySpendCapBase: 42n,
      tokensPerMinute: 1000,
    });
  });

  it("refuses bad settings with 400 naming the field, and changes nothing", async () => {
    const { browser } = await harness.signedIn();
    const { key } = (await browser.post("/api/keys", { name: "strict" })).body;
    const cases: Array<[unknown, string]> = [
      [{ name: "" }, "name"],
      [{ daily_spend_cap_base: 5 }, "daily_spend_cap_base"],
      [{ daily_spend_cap_base: "1.5" }, "daily_spend_cap_base"],
      [{ daily_spend_cap_base: "-1" }, "daily_spend_cap_base"],
      [{ requests_per_minute: 0 }, "requests_per_minute"],
      [{ requests_per_minute: 1.5 }, "requests_per_minute"],
      [{ tokens_per_minute: 3_000_000_000 }, "tokens_per_minute"],
      [{ allowed_models: [] }, "allowed_models"],
      [{ allowed_models: ["nope/model"] }, "allowed_models.[0]"],
      [{ allowed_models: [MODEL.id, MODEL.id] }, "allowed_models"],
      [{ nmae: "typo" }, ""],
      [{}, ""],
    ];
    for (const [body, param] of cases) {
      const response = await browser.patch(`/api/keys/${key.id}`, body);
      expect(response.status, JSON.stringify(body)).to.equal(400);
      expect(response.body.error.code).to.equal("invalid_request_error");
      if (param) expect(response.body.error.param, JSON.stringify(body)).to.equal(param);
    }
    expect(await harness.db.apiKeys.get(key.id)).to.include({
      name: "strict",
      dailySpendCapBase: null,
      allowedModels: null,
    });
    const create = await browser.post("/api/keys", { name: "x", allowed_models: ["nope/model"] });
    expect(create.status).to.equal(400);
    const notJson = await browser.request("POST", "/api/keys", { headers: { "content-type": "text/plain" } });
    expect(notJson.status).to.equal(400);
  });

  it("revokes a key: it stops working on /v1, stays listed as revoked, cannot be edited, and revoking again is harmless", async () => {
    const { browser } = await harness.signedIn();
    const { key, secret } = (await browser.post("/api/keys", { name: "old" })).body;
    expect((await v1Models(secret)).status).to.equal(200);
    const revoked = await browser.delete(`/api/keys/${key.id}`);
    expect(revoked.status).to.equal(200);
    expect(revoked.body.revoked).to.equal(true);
    expect(revoked.body.revoked_at).to.be.a("string");
    expect((await v1Models(secret)).status).to.equal(401);
    expect((await browser.delete(`/api/keys/${key.id}`)).status).to.equal(200);
    const edit = await browser.patch(`/api/keys/${key.id}`, { name: "new" });
    expect(edit.status).to.equal(409);
    expect(edit.body.error.code).to.equal("key_revoked");
    expect((await browser.get("/api/keys")).body.data[0]).to.include({ id: key.id, revoked: true });
  });

  it("keeps accounts apart: another account's key is not found, for reading, editing and revoking", async () => {
    const alice = await harness.signedIn();
    const mallory = await harness.signedIn();
    const { key, secret } = (await alice.browser.post("/api/keys", { name: "alice's" })).body;

    expect((await mallory.browser.get("/api/keys")).body.data).to.deep.equal([]);
    const edit = await mallory.browser.patch(`/api/keys/${key.id}`, { name: "pwned", daily_spend_cap_base: "0" });
    expect(edit.status).to.equal(404);
    expect(edit.body.error.code).to.equal("key_not_found");
    const revoke = await mallory.browser.delete(`/api/keys/${key.id}`);
    expect(revoke.status).to.equal(404);
    expect(await harness.db.apiKeys.get(key.id)).to.include({
      name: "alice's",
      revokedAt: null,
      dailySpendCapBase: null,
    });
    expect((await v1Models(secret)).status).to.equal(200);

    const malformed = await mallory.browser.delete("/api/keys/not-a-uuid");
    expect(malformed.status).to.equal(404);
  });
});
