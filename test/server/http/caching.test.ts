import { expect } from "chai";
import { ApiKeyAuthenticator } from "../../../server/domain/auth/apiKeyAuthenticator";
import { CachedModelCatalog } from "../../../server/domain/caching/cachedCatalog";
import { TtlCache } from "../../../server/domain/caching/ttlCache";
import { MemoryApiKeyStore, MemoryModelCatalog } from "../../support/memoryPorts";
import { MODEL_ID, startGatewayHarness } from "./support/gatewayHarness";

describe("hot-path caches", () => {
  let nowMs = 0;
  const now = () => nowMs;
  beforeEach(() => {
    nowMs = 1_000_000;
  });

  describe("ApiKeyAuthenticator", () => {
    it("looks a key up once per TTL, by the SHA-256 of the secret", async () => {
      const store = new MemoryApiKeyStore();
      const { secret, key } = store.create({ account: "0x01" });
      const auth = new ApiKeyAuthenticator(store, { ttlMs: 5000, now });
      for (let i = 0; i < 10; i++) expect((await auth.authenticate(secret))?.id).to.equal(key.id);
      expect(store.lookups).to.equal(1);
      nowMs += 5000;
      await auth.authenticate(secret);
      expect(store.lookups).to.equal(2);
    });

    it("caches unknown keys too, so a flood of bad keys costs one lookup each per TTL", async () => {
      const store = new MemoryApiKeyStore();
      const auth = new ApiKeyAuthenticator(store, { ttlMs: 5000, now });
      const bad = `sk-shareai-${"b".repeat(43)}`;
      for (let i = 0; i < 10; i++) expect(await auth.authenticate(bad)).to.equal(null);
      expect(store.lookups).to.equal(1);
    });

    it("never looks up what cannot be a key", async () => {
      const store = new MemoryApiKeyStore();
      const auth = new ApiKeyAuthenticator(store, { ttlMs: 5000, now });
      for (const bad of [
        "",
        "sk-proj-123",
        "sk-shareai-",
        "sk-shareai-short",
        `sk-shareai-${"x".repeat(500)}`,
        "sk-shareai-has spaces in it ok",
      ]) {
        expect(await auth.authenticate(bad)).to.equal(null);
      }
      expect(store.lookups).to.equal(0);
    });

    it("coalesces concurrent lookups of one key into one", async () => {
      const store = new MemoryApiKeyStore();
      const { secret } = store.create({ account: "0x01" });
      const auth = new ApiKeyAuthenticator(store, { ttlMs: 5000, now });
      await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(secret)));
      expect(store.lookups).to.equal(1);
    });

    it("stops accepting a revoked key within the TTL", async () => {
      const store = new MemoryApiKeyStore();
      const { secret, key } = store.create({ account: "0x01" });
      const auth = new ApiKeyAuthenticator(store, { ttlMs: 5000, now });
      expect(await auth.authenticate(secret)).to.not.equal(null);
      store.revoke(key.id);
      nowMs += 4999;
      expect(await auth.authenticate(secret), "still cached").to.not.equal(null);
      nowMs += 1;
      expect(await auth.authenticate(secret), "revoked once the TTL is over").to.equal(null);
    });

    it("reports use to the store at most once a minute per key, off the critical path", async () => {
      const store = new MemoryApiKeyStore();
      const { secret } = store.create({ account: "0x01" });
      const auth = new ApiKeyAuthenticator(store, { ttlMs: 5000, now });
      for (let i = 0; i < 5; i++) await auth.authenticate(secret);
      nowMs += 60_000;
      await auth.authenticate(secret);
      expect(store.touches).to.have.length(2);
    });
  });

  it("TtlCache stays within its bound and does not cache failures", async () => {
    const cache = new TtlCache<number, number>(1000, 3, now);
    for (let i = 0; i < 10; i++) await cache.get(i, async (k) => k);
    expect(cache.size).to.equal(3);
    let calls = 0;
    const failing = async () => {
      calls += 1;
      throw new Error("db down");
    };
    await cache.get(99, failing).catch(() => undefined);
    await cache.get(99, failing).catch(() => undefined);
    expect(calls).to.equal(2);
  });

  it("the model catalog is read once per TTL, unknown ids included", async () => {
    const inner = new MemoryModelCatalog();
    inner.add({ id: "m" });
    const catalog = new CachedModelCatalog(inner, 5000, now);
    for (let i = 0; i < 5; i++) {
      await catalog.get("m");
      await catalog.get("nope");
    }
    expect(inner.lookups).to.equal(2);
  });

  it("end to end: with the default TTL a revoked key keeps working only until the cache expires", async () => {
    const h = await startGatewayHarness({ env: { API_KEY_CACHE_TTL_MS: "300" } });
    try {
      const ask = { model: MODEL_ID, messages: [{ role: "user" as const, content: "x" }] };
      await h.client.chat.completions.create(ask);
      h.ports.apiKeys.revoke(h.key.id);
      await new Promise((resolve) => setTimeout(resolve, 350));
      const error = await h.client.chat.completions.create(ask).catch((e) => e);
      expect(error.status).to.equal(401);
    } finally {
      await h.close();
    }
  });
});
