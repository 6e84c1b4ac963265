import { expect } from "chai";
import { MockUpstream } from "../../support/mockUpstream";
import { chat, startSecondInstance } from "./providersSupport";
import { MODEL, startWebHarness, type WebHarness } from "./support/webHarness";
import type { Browser } from "./support/browser";

/**
 * What the gateway's router makes of an upstream the provider edits or removes on the Provider
 * page: chat completions go to the new address and model name, stop at a disabled or removed
 * upstream, and a request already in flight on a removed upstream finishes and is billed.
 */
describe("web API: provider upstream edits reach the router", () => {
  let harness: WebHarness;
  let first: MockUpstream;
  let second: MockUpstream;
  let provider: Browser;
  let secret: string;
  let upstreamId: string;

  before(async () => {
    harness = await startWebHarness();
    await harness.db.models.upsert(MODEL);
    first = await MockUpstream.start({ models: [MODEL.id] });
    second = await MockUpstream.start({ models: [MODEL.id, "local-name"], chunkDelayMs: 0 });
    const user = await harness.signedIn();
    secret = (await user.browser.post("/api/keys", { name: "routing" })).body.secret;
    await harness.db.accounts.setOnChainBalance(user.address, 20_000_000n, 0n);
    provider = (await harness.signedIn()).browser;
    await provider.post("/api/provider", { name: "router" });
    const added = await provider.post("/api/provider/upstreams", { base_url: first.baseUrl, models: [MODEL.id] });
    expect(added.body.enabled).to.equal(true);
    upstreamId = added.body.id;
  });

  after(async () => {
    await first?.close();
    await second?.close();
    await harness?.close();
  });

  const path = () => `/api/provider/upstreams/${upstreamId}`;

  async function upstreamOfUsage(requestCount: number): Promise<string[]> {
    const rows = await harness.db.dataSource.query(
      "SELECT upstream_id FROM usage_records ORDER BY created_at DESC LIMIT $1",
      [requestCount],
    );
    return rows.map((row: { upstream_id: string }) => row.upstream_id);
  }

  it("sends chat completions to the upstream's new base URL and model name after an edit", async () => {
    const before = await chat(harness.serverUrl, secret, MODEL.id);
    expect(before.status, JSON.stringify(before.body)).to.equal(200);
    expect(first.chatRequests).to.have.length(1);

    const edited = await provider.patch(path(), { base_url: second.baseUrl, models: [`${MODEL.id}=local-name`] });
    expect(edited.status, edited.text).to.equal(200);
    expect(edited.body.enabled).to.equal(true);

    const after = await chat(harness.serverUrl, secret, MODEL.id);
    expect(after.status, JSON.stringify(after.body)).to.equal(200);
    expect(after.body.model).to.equal(MODEL.id);
    expect(first.chatRequests, "the old address is not called").to.have.length(1);
    expect(second.chatRequests).to.have.length(1);
    expect(second.chatRequests[0].body.model).to.equal("local-name");
    expect(await upstreamOfUsage(2)).to.deep.equal([upstreamId, upstreamId]);
  });

  it("stops routing to a disabled upstream, and again to an enabled one", async () => {
    await provider.patch(path(), { enabled: false });
    const refused = await chat(harness.serverUrl, secret, MODEL.id);
    expect(refused.status).to.equal(503);
    expect(refused.body.error.code).to.equal("no_provider_available");
    await provider.patch(path(), { enabled: true });
    expect((await chat(harness.serverUrl, secret, MODEL.id)).status).to.equal(200);
  });

  it("picks an edit up in a running gateway whose upstream cache is warm, within CATALOG_CACHE_TTL_MS", async () => {
    const cached = await startSecondInstance(harness, { CATALOG_CACHE_TTL_MS: "500" });
    try {
      expect((await chat(cached.serverUrl, secret, MODEL.id)).status).to.equal(200);
      const atSecond = second.chatRequests.length;
      await provider.patch(path(), { base_url: first.baseUrl, models: [MODEL.id] });
      const atFirst = first.chatRequests.length;
      const deadline = Date.now() + 3_000;
      while (first.chatRequests.length === atFirst) {
        expect(Date.now(), "the edit reached the cached instance in time").to.be.below(deadline);
        expect((await chat(cached.serverUrl, secret, MODEL.id)).status).to.equal(200);
        await new Promise((wake) => setTimeout(wake, 100));
      }
      expect(second.chatRequests.length - atSecond, "only until the cache expired").to.be.at.most(10);
    } finally {
      await cached.close();
      await provider.patch(path(), { base_url: second.baseUrl, models: [`${MODEL.id}=local-name`] });
    }
  });

  it("lets a stream in flight on a removed upstream finish and bills it; then routes nothing there", async () => {
    second.options.chunkDelayMs = 150;
    try {
      const response = await fetch(`${harness.serverUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
        body: JSON.stringify({
          model: MODEL.id,
          stream: true,
          stream_options: { include_usage: true },
          messages: [{ role: "user", content: "one two three four five six" }],
        }),
      });
      expect(response.status).to.equal(200);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let text = decoder.decode((await reader.read()).value);
      expect(text).to.include("data: ");

      // Removed while the stream is still coming.
      expect((await provider.delete(path())).status).to.equal(204);
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value);
      expect(text.trimEnd().endsWith("data: [DONE]"), text).to.equal(true);
      const usage = text
        .split("\n\n")
        .map((event) => event.replace(/^data: /, ""))
        .filter((data) => data.startsWith("{"))
        .map((data) => JSON.parse(data))
        .find((chunk) => chunk.usage)?.usage;
      expect(usage.completion_tokens).to.be.greaterThan(0);
    } finally {
      second.options.chunkDelayMs = 0;
    }
    const [billed] = await harness.db.dataSource.query(
      `SELECT r.outcome, r.upstream_id, u.base_url, u.removed_at FROM usage_records r
       JOIN upstreams u ON u.id = r.upstream_id ORDER BY r.created_at DESC LIMIT 1`,
    );
    expect(billed).to.deep.include({ outcome: "completed", upstream_id: upstreamId, base_url: second.baseUrl });
    expect(billed.removed_at, "the usage record still finds its (removed) upstream").to.be.instanceOf(Date);

    const calls = second.chatRequests.length;
    const refused = await chat(harness.serverUrl, secret, MODEL.id);
    expect(refused.status).to.equal(503);
    // It was this deployment's only upstream: removed, it is no longer configured.
    expect(refused.body.error.code).to.equal("provider_upstream_not_configured");
    expect(second.chatRequests.length).to.equal(calls);
  });
});
