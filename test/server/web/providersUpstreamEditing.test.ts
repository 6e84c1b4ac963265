import { expect } from "chai";
import { decryptSecret } from "../../../server/persistence/secretBox";
import { MockUpstream } from "../../support/mockUpstream";
import { startSecondInstance } from "./providersSupport";
import { ENCRYPTION_KEY, MODEL, startWebHarness, type WebHarness } from "./support/webHarness";

const OTHER_MODEL = { ...MODEL, id: "shareai/test-2" };

/**
 * The Provider page's upstream editing: edit (base URL, key kept/replaced/deleted, models,
 * enabled), remove (kept in the database, gone from the page), only by the owner, CSRF, and the
 * last health check stored in Postgres, so it survives a restart and is written by every
 * instance's periodic checker.
 */
describe("web API: provider upstreams, edited and removed", () => {
  let harness: WebHarness;
  let plain: MockUpstream;
  let other: MockUpstream;
  let keyed: MockUpstream;

  before(async () => {
    harness = await startWebHarness();
    await harness.db.models.upsert(MODEL);
    await harness.db.models.upsert(OTHER_MODEL);
    plain = await MockUpstream.start({ models: [MODEL.id, OTHER_MODEL.id, "local-2"] });
    other = await MockUpstream.start({ models: [MODEL.id, OTHER_MODEL.id] });
    keyed = await MockUpstream.start({ apiKey: "upstream-secret", models: [MODEL.id] });
  });

  after(async () => {
    await Promise.all([plain, other, keyed].map((mock) => mock?.close()));
    await harness?.close();
  });

  async function providerWithUpstream(body: Record<string, unknown>) {
    const signedIn = await harness.signedIn();
    await signedIn.browser.post("/api/provider", { name: "edits" });
    const added = await signedIn.browser.post("/api/provider/upstreams", body);
    expect(added.status, added.text).to.equal(201);
    return { ...signedIn, upstream: added.body };
  }

  async function row(id: string) {
    const [found] = await harness.db.dataSource.query("SELECT * FROM upstreams WHERE id = $1", [id]);
    return found;
  }

  const storedKey = async (id: string) => {
    const sealed = (await row(id)).api_key_ciphertext as Buffer | null;
    return sealed && decryptSecret(sealed, ENCRYPTION_KEY, id);
  };

  it("edits the base URL and models, checking the upstream live as it will be", async () => {
    const { browser, upstream } = await providerWithUpstream({ base_url: plain.baseUrl, models: [MODEL.id] });
    const before = other.requests.length;
    const edited = await browser.patch(`/api/provider/upstreams/${upstream.id}`, {
      base_url: `${other.baseUrl}/`,
      models: [OTHER_MODEL.id, `${MODEL.id}=${MODEL.id}`],
    });
    expect(edited.status, edited.text).to.equal(200);
    expect(edited.body).to.deep.include({ id: upstream.id, base_url: other.baseUrl, enabled: true, has_api_key: false });
    expect(edited.body.models).to.deep.equal([
      { id: MODEL.id, upstream_name: MODEL.id },
      { id: OTHER_MODEL.id, upstream_name: OTHER_MODEL.id },
    ]);
    expect(edited.body.health).to.include({ ok: true, status: 200, error: null });
    expect(edited.body.health.models_listed).to.deep.equal([MODEL.id, OTHER_MODEL.id]);
    expect(other.requests.slice(before).some((r) => r.method === "GET" && r.path === "/v1/models"), "checked live").to.equal(true);

    const listed = (await browser.get("/api/provider")).body.upstreams;
    expect(listed).to.have.length(1);
    expect(listed[0]).to.deep.include({ base_url: other.baseUrl, models: edited.body.models });

    // Only `enabled`: nothing to check, nothing else changes.
    const checks = other.requests.length;
    const disabled = await browser.patch(`/api/provider/upstreams/${upstream.id}`, { enabled: false });
    expect(disabled.status).to.equal(200);
    expect(disabled.body).to.deep.include({ enabled: false, base_url: other.baseUrl });
    expect(other.requests.length, "no check").to.equal(checks);
    expect((await browser.patch(`/api/provider/upstreams/${upstream.id}`, { enabled: true })).body.enabled).to.equal(true);
  });

  it("saves an edit that fails its check disabled, with the reason, unless `enabled` says otherwise", async () => {
    const { browser, upstream } = await providerWithUpstream({ base_url: plain.baseUrl, models: [MODEL.id] });
    const missing = await browser.patch(`/api/provider/upstreams/${upstream.id}`, { models: [`${MODEL.id}=not-served`] });
    expect(missing.status, missing.text).to.equal(200);
    expect(missing.body.enabled).to.equal(false);
    expect(missing.body.health).to.include({ ok: false, status: 200 });
    expect(missing.body.health.missing_models).to.deep.equal(["not-served"]);
    expect(missing.body.models).to.deep.equal([{ id: MODEL.id, upstream_name: "not-served" }]);

    const fixed = await browser.patch(`/api/provider/upstreams/${upstream.id}`, { models: [`${MODEL.id}=local-2`], enabled: true });
    expect(fixed.body).to.deep.include({ enabled: true });
    expect(fixed.body.health.ok).to.equal(true);
  });

  it("keeps the stored key when an edit leaves it out, replaces it, and deletes it with null; never returns it", async () => {
    const { browser, upstream } = await providerWithUpstream({ base_url: keyed.baseUrl, api_key: "upstream-secret", models: [MODEL.id] });
    expect(upstream.enabled).to.equal(true);
    expect(await storedKey(upstream.id)).to.equal("upstream-secret");

    // Kept: the live check of the edit uses the stored key.
    const kept = await browser.patch(`/api/provider/upstreams/${upstream.id}`, { models: [`${MODEL.id}=${MODEL.id}`] });
    expect(kept.body).to.deep.include({ has_api_key: true, enabled: true });
    expect(kept.body.health.ok).to.equal(true);
    expect(keyed.requests.at(-1)!.headers.authorization).to.equal("Bearer upstream-secret");
    expect(await storedKey(upstream.id)).to.equal("upstream-secret");

    // Replaced with a key the upstream refuses: stored (sealed) all the same, and the upstream disabled.
    const replaced = await browser.patch(`/api/provider/upstreams/${upstream.id}`, { api_key: "rotated-key" });
    expect(replaced.status, replaced.text).to.equal(200);
    expect(replaced.body).to.deep.include({ has_api_key: true, enabled: false });
    expect(replaced.body.health).to.include({ ok: false, status: 401 });
    expect(await storedKey(upstream.id)).to.equal("rotated-key");
    expect((await row(upstream.id)).api_key_ciphertext.includes(Buffer.from("rotated-key")), "sealed").to.equal(false);

    const back = await browser.patch(`/api/provider/upstreams/${upstream.id}`, { api_key: "upstream-secret", enabled: true });
    expect(back.body).to.deep.include({ has_api_key: true, enabled: true });
    expect(back.body.health.ok).to.equal(true);

    // Deleted: checked without a key (this upstream wants one, so it fails and is disabled).
    const cleared = await browser.patch(`/api/provider/upstreams/${upstream.id}`, { api_key: null });
    expect(cleared.body).to.deep.include({ has_api_key: false, enabled: false });
    expect(keyed.requests.at(-1)!.headers.authorization).to.equal(undefined);
    expect((await row(upstream.id)).api_key_ciphertext).to.equal(null);

    const everything = [kept, replaced, back, cleared, await browser.get("/api/provider")].map((r) => r.text).join("\n");
    expect(everything).to.not.include("upstream-secret").and.not.include("rotated-key");
  });

  it("refuses bad edits and changes nothing", async () => {
    const { browser, upstream } = await providerWithUpstream({ base_url: plain.baseUrl, models: [MODEL.id] });
    const path = `/api/provider/upstreams/${upstream.id}`;
    const refused: Array<[unknown, string | null]> = [
      [{}, null],
      [{ api_key: "" }, "api_key"],
      [{ models: [] }, "models"],
      [{ models: ["nope/model"] }, "models"],
      [{ models: [MODEL.id, MODEL.id] }, "models"],
      [{ base_url: "file:///etc/passwd" }, "base_url"],
      [{ base_url: "http://user:pw@127.0.0.1/v1" }, "base_url"],
      [{ name: "x" }, null],
    ];
    for (const [body, param] of refused) {
      const response = await browser.patch(path, body);
      expect(response.status, JSON.stringify(body)).to.equal(400);
      if (param) expect(response.body.error.param, JSON.stringify(body)).to.equal(param);
    }
    const [listed] = (await browser.get("/api/provider")).body.upstreams;
    expect(listed).to.deep.include({ base_url: plain.baseUrl, enabled: true, models: [{ id: MODEL.id, upstream_name: MODEL.id }] });
  });

  it("removes an upstream: gone from the page and the router, its row kept, disabled and keyless; idempotent", async () => {
    const { browser, upstream } = await providerWithUpstream({ base_url: keyed.baseUrl, api_key: "upstream-secret", models: [MODEL.id] });
    const removed = await browser.delete(`/api/provider/upstreams/${upstream.id}`);
    expect(removed.status, removed.text).to.equal(204);
    expect((await browser.get("/api/provider")).body.upstreams).to.deep.equal([]);
    const kept = await row(upstream.id);
    expect(kept, "the row stays for the usage records that name it").to.not.equal(undefined);
    expect(kept).to.deep.include({ enabled: false, api_key_ciphertext: null, base_url: keyed.baseUrl });
    expect(kept.removed_at).to.be.instanceOf(Date);
    expect((await harness.db.upstreamDirectory.upstreamsFor(MODEL.id)).map((t) => t.id)).to.not.include(upstream.id);

    expect((await browser.delete(`/api/provider/upstreams/${upstream.id}`)).status, "again").to.equal(204);
    for (const response of [
      await browser.patch(`/api/provider/upstreams/${upstream.id}`, { enabled: true }),
      await browser.post(`/api/provider/upstreams/${upstream.id}/check`, {}),
    ]) {
      expect(response.status).to.equal(404);
      expect(response.body.error.code).to.equal("upstream_not_found");
    }
    // Nothing brings it back: a removed upstream is never enabled (the database's rule too).
    expect(await harness.db.providers.setUpstreamEnabled(upstream.id, true)).to.equal(false);
    let refused: unknown;
    await harness.db.dataSource.query("UPDATE upstreams SET enabled = true WHERE id = $1", [upstream.id]).catch((error) => {
      refused = error;
    });
    expect(String(refused)).to.match(/upstreams_removed_is_disabled/);
  });

  it("lets only the owner edit, check or remove an upstream", async () => {
    const alice = await providerWithUpstream({ base_url: plain.baseUrl, models: [MODEL.id] });
    const bob = await harness.signedIn();
    const id = alice.upstream.id;
    // Bob is not a provider: there is nothing of his to edit.
    const notProvider = await bob.browser.patch(`/api/provider/upstreams/${id}`, { enabled: false });
    expect(notProvider.status).to.equal(404);
    expect(notProvider.body.error.code).to.equal("provider_not_registered");
    await bob.browser.post("/api/provider", { name: "bob" });
    const attempts = [
      await bob.browser.patch(`/api/provider/upstreams/${id}`, { base_url: other.baseUrl }),
      await bob.browser.patch(`/api/provider/upstreams/${id}`, { api_key: null }),
      await bob.browser.delete(`/api/provider/upstreams/${id}`),
      await bob.browser.delete("/api/provider/upstreams/not-a-uuid"),
    ];
    for (const attempt of attempts) {
      expect(attempt.status).to.equal(404);
      expect(attempt.body.error.code).to.equal("upstream_not_found");
    }
    const [still] = (await alice.browser.get("/api/provider")).body.upstreams;
    expect(still).to.deep.include({ id, base_url: plain.baseUrl, enabled: true });
    expect((await row(id)).removed_at).to.equal(null);
  });

  it("needs a session, this site's Origin and the CSRF token to edit or remove", async () => {
    const { browser, upstream } = await providerWithUpstream({ base_url: plain.baseUrl, models: [MODEL.id] });
    const path = `/api/provider/upstreams/${upstream.id}`;
    expect((await harness.browser().patch(path, { enabled: false })).status).to.equal(401);
    expect((await harness.browser().delete(path)).status).to.equal(401);
    const refusals = [
      await browser.patch(path, { enabled: false }, { headers: { "x-csrf-token": null } }),
      await browser.patch(path, { base_url: other.baseUrl }, { headers: { origin: "https://evil.example" } }),
      await browser.delete(path, { headers: { "x-csrf-token": "forged" } }),
      await browser.delete(path, { headers: { origin: "https://evil.example" } }),
    ];
    for (const refusal of refusals) {
      expect(refusal.status).to.equal(403);
      expect(refusal.body.error.code).to.equal("csrf_failed");
    }
    const [unchanged] = (await browser.get("/api/provider")).body.upstreams;
    expect(unchanged).to.deep.include({ base_url: plain.baseUrl, enabled: true });
  });

  describe("health, stored", () => {
    it("stores the live checks of add, check and edit, and shows the last one", async () => {
      const { browser, upstream } = await providerWithUpstream({ base_url: plain.baseUrl, models: [MODEL.id] });
      const stored = (await browser.get("/api/provider")).body.upstreams[0].health;
      expect(stored).to.deep.equal({
        ok: true,
        checked_at: upstream.health.checked_at,
        status: 200,
        latency_ms: upstream.health.latency_ms,
        error: null,
      });
      const dbRow = await row(upstream.id);
      expect(dbRow).to.deep.include({ health_status: "up", health_http_status: 200, health_error: null });

      plain.healthy = false;
      try {
        const checked = await browser.post(`/api/provider/upstreams/${upstream.id}/check`, {});
        expect(checked.body.health).to.include({ ok: false, status: 503 });
        const after = (await browser.get("/api/provider")).body.upstreams[0].health;
        expect(after).to.include({ ok: false, status: 503, error: "GET /models answered HTTP 503." });
        expect(Date.parse(after.checked_at)).to.be.at.least(Date.parse(stored.checked_at));
      } finally {
        plain.healthy = true;
      }
    });

    it("does not store a check made with a key from the body (it is not the upstream as configured)", async () => {
      const { browser, upstream } = await providerWithUpstream({ base_url: keyed.baseUrl, api_key: "wrong", models: [MODEL.id] });
      expect(upstream.health).to.include({ ok: false, status: 401 });
      const tried = await browser.post(`/api/provider/upstreams/${upstream.id}/check`, { api_key: "upstream-secret" });
      expect(tried.body.health.ok).to.equal(true);
      expect((await browser.get("/api/provider")).body.upstreams[0].health).to.include({ ok: false, status: 401 });
    });

    it("survives a restart: another instance on the same database shows the last check", async () => {
      const { browser, upstream } = await providerWithUpstream({ base_url: other.baseUrl, models: [MODEL.id] });
      const shown = (await browser.get("/api/provider")).body.upstreams[0].health;
      const restarted = await startSecondInstance(harness);
      try {
        const page = await restarted.sameSession(browser).get("/api/provider");
        expect(page.status, page.text).to.equal(200);
        const [seen] = page.body.upstreams;
        expect(seen.id).to.equal(upstream.id);
        expect(seen.health).to.deep.equal(shown);
      } finally {
        await restarted.close();
      }
    });

    it("is written by the periodic health checker of every instance, one row per check", async () => {
      const flaky = await MockUpstream.start({ models: [MODEL.id] });
      try {
        const { browser, upstream } = await providerWithUpstream({ base_url: flaky.baseUrl, models: [MODEL.id] });
        const instance = await startSecondInstance(harness, { HEALTH_CHECK_INTERVAL_MS: "100", HEALTH_CHECK_TIMEOUT_MS: "1000" });
        let last: any;
        try {
          const healthOf = async () => {
            last = (await browser.get("/api/provider")).body.upstreams[0].health;
            return last;
          };
          flaky.healthy = false;
          await eventuallyAsync(async () => (await healthOf()).ok === false);
          expect(last).to.include({ ok: false, status: 503, error: "GET /models answered HTTP 503." });
          flaky.healthy = true;
          await eventuallyAsync(async () => (await healthOf()).ok === true);
          expect(last).to.include({ ok: true, status: 200, error: null });
          await flaky.close();
          await eventuallyAsync(async () => (await healthOf()).status === null);
          expect(last.ok).to.equal(false);
          expect(last.error).to.match(/^Could not connect: ECONNREFUSED\.$/);
          // The checker's state and the stored row agree.
          expect(instance.gateway.app.upstreamStates.get(upstream.id).health).to.equal("down");
        } finally {
          await instance.close();
        }
      } finally {
        await flaky.close().catch(() => undefined);
      }
    });

    it("never lets an older result overwrite a newer one, nor writes to a removed upstream", async () => {
      const { browser, upstream } = await providerWithUpstream({ base_url: plain.baseUrl, models: [MODEL.id] });
      const newest = Date.parse(upstream.health.checked_at);
      await harness.db.upstreamHealth.record(upstream.id, {
        up: false,
        checkedAt: new Date(newest - 60_000),
        latencyMs: 5,
        httpStatus: 500,
        error: "late",
      });
      expect((await browser.get("/api/provider")).body.upstreams[0].health).to.include({ ok: true, checked_at: upstream.health.checked_at });

      await harness.db.upstreamHealth.record(upstream.id, {
        up: false,
        checkedAt: new Date(newest + 1_000),
        latencyMs: 12.6,
        httpStatus: null,
        error: `Could not connect:\n${"x".repeat(500)}`,
      });
      const health = (await browser.get("/api/provider")).body.upstreams[0].health;
      expect(health).to.include({ ok: false, latency_ms: 13, status: null });
      expect(health.error).to.have.length(200).and.match(/^Could not connect: x+…$/);

      await browser.delete(`/api/provider/upstreams/${upstream.id}`);
      await harness.db.upstreamHealth.record(upstream.id, {
        up: true,
        checkedAt: new Date(newest + 2_000),
        latencyMs: 1,
        httpStatus: 200,
        error: null,
      });
      expect((await row(upstream.id)).health_status).to.equal("down");
    });
  });
});

async function eventuallyAsync(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((wake) => setTimeout(wake, 50));
  }
}
