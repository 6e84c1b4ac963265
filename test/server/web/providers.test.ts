import { expect } from "chai";
import { MockUpstream } from "../../support/mockUpstream";
import { postgresWebStores } from "../../../server/web";
import { MODEL, PROVIDER_ADDRESS, recordUsage, startWebHarness, type WebHarness } from "./support/webHarness";
import { isPrivateIp } from "../../../server/web/providers/upstreamHealth";

/** The Provider page's API: register, add upstreams after a live check, isolation, CSRF, the numbers. */
describe("web API: provider", () => {
  let harness: WebHarness;
  let healthy: MockUpstream;
  let keyed: MockUpstream;

  before(async () => {
    harness = await startWebHarness();
    await harness.db.models.upsert(MODEL);
    healthy = await MockUpstream.start({ models: ["test-1-local"] });
    keyed = await MockUpstream.start({ apiKey: "upstream-secret", models: [MODEL.id] });
  });

  after(async () => {
    await healthy?.close();
    await keyed?.close();
    await harness?.close();
  });

  it("needs a session, and says so when the wallet is not a provider", async () => {
    expect((await harness.browser().get("/api/provider")).status).to.equal(401);
    const { browser } = await harness.signedIn();
    const response = await browser.get("/api/provider");
    expect(response.status).to.equal(404);
    expect(response.body.error.code).to.equal("provider_not_registered");
  });

  it("registers the signed-in wallet as the payout address, once", async () => {
    const { browser, address } = await harness.signedIn();
    const created = await browser.post("/api/provider", { name: "Alice's GPUs" });
    expect(created.status, created.text).to.equal(201);
    expect(created.body.payout_address).to.equal(address);
    expect(created.body.name).to.equal("Alice's GPUs");
    expect(created.body.upstreams).to.deep.equal([]);
    expect(created.body.earnings.unclaimed.base).to.equal("0");
    const again = await browser.post("/api/provider", { name: "again" });
    expect(again.status).to.equal(409);
    expect(again.body.error.code).to.equal("provider_exists");
    // A payout address in the body is refused: it is always the session's.
    const other = await harness.signedIn();
    const spoof = await other.browser.post("/api/provider", { name: "x", payout_address: address });
    expect(spoof.status).to.equal(400);
  });

  it("refuses state changes without the CSRF token or from another origin", async () => {
    const { browser } = await harness.signedIn();
    const noToken = await browser.post("/api/provider", { name: "x" }, { headers: { "x-csrf-token": null } });
    expect(noToken.status).to.equal(403);
    expect(noToken.body.error.code).to.equal("csrf_failed");
    const foreign = await browser.post("/api/provider", { name: "x" }, { headers: { origin: "https://evil.example" } });
    expect(foreign.status).to.equal(403);
    expect((await browser.get("/api/provider")).status).to.equal(404);
  });

  it("adds an upstream after a live health check that passes, and shows it", async () => {
    const { browser } = await harness.signedIn();
    await browser.post("/api/provider", { name: "ok" });
    const added = await browser.post("/api/provider/upstreams", {
      base_url: `${healthy.baseUrl}/`,
      models: [`${MODEL.id}=test-1-local`],
    });
    expect(added.status, added.text).to.equal(201);
    expect(added.body.base_url).to.equal(healthy.baseUrl);
    expect(added.body.enabled).to.equal(true);
    expect(added.body.models).to.deep.equal([{ id: MODEL.id, upstream_name: "test-1-local" }]);
    expect(added.body.health.ok).to.equal(true);
    expect(added.body.health.status).to.equal(200);
    expect(added.body.health.models_listed).to.deep.equal(["test-1-local"]);
    expect(healthy.requests.some((r) => r.method === "GET" && r.path === "/v1/models")).to.equal(true);

    const provider = await browser.get("/api/provider");
    expect(provider.body.upstreams).to.have.length(1);
    expect(provider.body.upstreams[0].health.ok).to.equal(true);

    const disabled = await browser.patch(`/api/provider/upstreams/${added.body.id}`, { enabled: false });
    expect(disabled.status).to.equal(200);
    expect(disabled.body.enabled).to.equal(false);
    expect((await browser.get("/api/provider")).body.upstreams[0].enabled).to.equal(false);
  });

  it("saves an upstream that fails its check disabled, with the reason; a later check can pass", async () => {
    const { browser } = await harness.signedIn();
    await browser.post("/api/provider", { name: "keyed" });
    const wrongKey = await browser.post("/api/provider/upstreams", {
      base_url: keyed.baseUrl,
      api_key: "wrong",
      models: [MODEL.id],
    });
    expect(wrongKey.status, wrongKey.text).to.equal(201);
    expect(wrongKey.body.enabled).to.equal(false);
    expect(wrongKey.body.has_api_key).to.equal(true);
    expect(wrongKey.body.health.ok).to.equal(false);
    expect(wrongKey.body.health.status).to.equal(401);
    expect(wrongKey.body.health.error).to.match(/API key/);
    expect(JSON.stringify(wrongKey.body)).to.not.include("wrong\"");

    const recheck = await browser.post(`/api/provider/upstreams/${wrongKey.body.id}/check`, { api_key: "upstream-secret" });
    expect(recheck.status, recheck.text).to.equal(200);
    expect(recheck.body.health.ok).to.equal(true);

    // Nobody listening: a connection failure, in plain words.
    const closed = await MockUpstream.start();
    const deadUrl = closed.baseUrl;
    await closed.close();
    const dead = await browser.post("/api/provider/upstreams", { base_url: deadUrl, models: [MODEL.id] });
    expect(dead.status).to.equal(201);
    expect(dead.body.health.ok).to.equal(false);
    expect(dead.body.health.status).to.equal(null);
    expect(dead.body.health.error).to.match(/Could not connect/);
  });

  it("refuses URLs that are not http(s), and models the network does not have", async () => {
    const { browser } = await harness.signedIn();
    await browser.post("/api/provider", { name: "bad input" });
    for (const base_url of ["file:///etc/passwd", "ftp://example.com/v1", "not a url", "http://user:pw@127.0.0.1/v1"]) {
      const response = await browser.post("/api/provider/upstreams", { base_url, models: [MODEL.id] });
      expect(response.status, base_url).to.equal(400);
      expect(response.body.error.param, base_url).to.equal("base_url");
    }
    const unknown = await browser.post("/api/provider/upstreams", { base_url: healthy.baseUrl, models: ["nope/model"] });
    expect(unknown.status).to.equal(400);
    expect(unknown.body.error.param).to.equal("models");
  });

  it("keeps each provider's upstreams to itself", async () => {
    const alice = await harness.signedIn();
    const bob = await harness.signedIn();
    await alice.browser.post("/api/provider", { name: "alice" });
    await bob.browser.post("/api/provider", { name: "bob" });
    const added = await alice.browser.post("/api/provider/upstreams", {
      base_url: healthy.baseUrl,
      models: [`${MODEL.id}=test-1-local`],
    });
    const id = added.body.id;
    expect((await bob.browser.get("/api/provider")).body.upstreams).to.deep.equal([]);
    const patch = await bob.browser.patch(`/api/provider/upstreams/${id}`, { enabled: false });
    expect(patch.status).to.equal(404);
    expect(patch.body.error.code).to.equal("upstream_not_found");
    expect((await bob.browser.post(`/api/provider/upstreams/${id}/check`, {})).status).to.equal(404);
    expect((await alice.browser.get("/api/provider")).body.upstreams[0].enabled).to.equal(true);
  });

  it("counts requests, tokens and pending usage at the provider", async () => {
    // The harness records usage at PROVIDER_ADDRESS, a wallet no test holds: read the numbers
    // through the store the route uses (the browser test sees them through the page).
    const user = await harness.signedIn();
    const keyId = (await user.browser.post("/api/keys", { name: "k" })).body.key.id;
    await harness.db.accounts.setOnChainBalance(user.address, 20_000_000n, 0n);
    await recordUsage(harness, { account: user.address, keyId, modelId: MODEL.id, costMicros: 2_500_000n, at: new Date() });
    const activity = await postgresWebStores(harness.db).providerPortal!.activity(PROVIDER_ADDRESS);
    expect(activity.requests).to.equal(1);
    expect(activity.promptTokens).to.equal(10n);
    expect(activity.completionTokens).to.equal(20n);
    expect(activity.pendingMicros).to.equal(2_500_000n);
    expect(activity.unclaimedBase).to.equal(0n);
  });

  it("classifies private addresses for the SSRF guard", () => {
    for (const ip of ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.4", "169.254.169.254", "::1", "fd00::1", "::ffff:127.0.0.1"]) {
      expect(isPrivateIp(ip), ip).to.equal(true);
    }
    for (const ip of ["8.8.8.8", "1.1.1.1", "2606:4700::1111"]) expect(isPrivateIp(ip), ip).to.equal(false);
  });

  it("refuses private upstream addresses when PROVIDER_UPSTREAM_ALLOW_PRIVATE=false", async () => {
    let strict: WebHarness | undefined;
    try {
      strict = await startWebHarness({ env: { PROVIDER_UPSTREAM_ALLOW_PRIVATE: "false" } });
      await strict.db.models.upsert(MODEL);
      const { browser } = await strict.signedIn();
      await browser.post("/api/provider", { name: "strict" });
      const before = healthy.requests.length;
      for (const base_url of [healthy.baseUrl, "http://localhost:9/v1", "http://169.254.169.254/latest", "http://[::1]:9/v1"]) {
        const response = await browser.post("/api/provider/upstreams", { base_url, models: [MODEL.id] });
        expect(response.status, base_url).to.equal(400);
        expect(response.body.error.param).to.equal("base_url");
        expect(response.body.error.message).to.match(/private/);
      }
      expect(healthy.requests.length, "never called").to.equal(before);
    } finally {
      await strict?.close();
    }
  });
});
