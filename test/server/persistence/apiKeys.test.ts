import { expect } from "chai";
import type { Database } from "../../../server/persistence";
import { API_KEY_PREFIX, hashApiKey } from "../../../server/persistence";
import { openTestDatabase, randomAddress, type OpenedTestDatabase } from "./fixtures";

describe("API keys", () => {
  let opened: OpenedTestDatabase;
  let db: Database;

  before(async () => {
    opened = await openTestDatabase({ keyTouchFlushMs: 60_000 });
    db = opened.db;
  });

  after(async () => {
    await opened.closeAll();
  });

  it("are created as sk-shareai- and 32 random bytes, shown once and stored only as a SHA-256 hash", async () => {
    const account = `0x${randomAddress().slice(2).toUpperCase()}`;
    const { apiKey, secret } = await db.apiKeys.create({ account, name: "laptop" });

    expect(secret).to.match(/^sk-shareai-[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret.slice(API_KEY_PREFIX.length), "base64url")).to.have.length(32);
    expect(apiKey).to.include({
      account: account.toLowerCase(),
      name: "laptop",
      prefix: secret.slice(0, 15),
      revokedAt: null,
    });
    expect(apiKey).to.not.have.property("secret");

    const [row] = await db.dataSource.query("SELECT * FROM api_keys WHERE id = $1", [apiKey.id]);
    expect(row.secret_sha256).to.equal(hashApiKey(secret));
    const stored = JSON.stringify(row);
    expect(stored).to.not.include(secret);
    expect(stored).to.not.include(secret.slice(15));
  });

  it("are found by the hash of the presented secret, and only by it", async () => {
    const { apiKey, secret } = await db.apiKeys.create({
      account: randomAddress(),
      name: "ci",
      allowedModels: ["model-a", "model-b"],
      dailySpendCapBase: 5_000_000n,
      totalSpendCapBase: 50_000_000n,
      requestsPerMinute: 60,
      tokensPerMinute: 100_000,
    });
    expect(await db.apiKeyStore.findByHash(hashApiKey(secret))).to.deep.equal({
      id: apiKey.id,
      account: apiKey.account,
      name: "ci",
      prefix: apiKey.prefix,
      allowedModels: ["model-a", "model-b"],
      dailySpendCapBase: 5_000_000n,
      totalSpendCapBase: 50_000_000n,
      requestsPerMinute: 60,
      tokensPerMinute: 100_000,
      revokedAt: null,
    });
    expect(await db.apiKeyStore.findByHash(hashApiKey(`${secret}x`))).to.equal(null);
    expect(await db.apiKeyStore.findByHash(secret)).to.equal(null);
  });

  it("can be revoked once, and are then found with their revocation time", async () => {
    const { apiKey, secret } = await db.apiKeys.create({ account: randomAddress(), name: "old" });
    expect(await db.apiKeys.revoke(apiKey.id)).to.equal(true);
    expect(await db.apiKeys.revoke(apiKey.id)).to.equal(false);
    expect(await db.apiKeys.revoke("not-a-uuid")).to.equal(false);
    const found = await db.apiKeyStore.findByHash(hashApiKey(secret));
    expect(found!.revokedAt).to.be.instanceOf(Date);
  });

  it("can have their name and limits changed, within sane values", async () => {
    const { apiKey } = await db.apiKeys.create({ account: randomAddress(), name: "tuned", requestsPerMinute: 10 });
    const updated = await db.apiKeys.update(apiKey.id, { name: "retuned", dailySpendCapBase: 7n, allowedModels: [] });
    expect(updated).to.include({ name: "retuned", dailySpendCapBase: 7n, requestsPerMinute: 10 });
    expect(updated!.allowedModels).to.deep.equal([]);
    expect(await db.apiKeys.update("00000000-0000-4000-8000-00000000dead", { name: "x" })).to.equal(null);
    for (const bad of [{ name: " " }, { dailySpendCapBase: -1n }, { requestsPerMinute: 0 }, { tokensPerMinute: 1.5 }]) {
      await db.apiKeys.update(apiKey.id, bad).then(
        () => expect.fail(`accepted ${JSON.stringify(bad, (_, v) => (typeof v === "bigint" ? `${v}n` : v))}`),
        (error: Error) => expect(error).to.be.instanceOf(Error),
      );
    }
  });

  it("are listed per account, oldest first", async () => {
    const account = randomAddress();
    const first = await db.apiKeys.create({ account, name: "first" });
    const second = await db.apiKeys.create({ account, name: "second" });
    await db.apiKeys.create({ account: randomAddress(), name: "someone else's" });
    const listed = await db.apiKeys.list(account);
    expect(listed.map((key) => key.id)).to.deep.equal([first.apiKey.id, second.apiKey.id]);
    expect((await db.apiKeys.list()).length).to.be.at.least(3);
  });

  it("record their last use in batches: nothing until a flush, then the latest time in one write", async () => {
    const { apiKey } = await db.apiKeys.create({ account: randomAddress(), name: "busy" });
    const { apiKey: other } = await db.apiKeys.create({ account: randomAddress(), name: "quiet" });
    const times = ["2026-05-01T10:00:02Z", "2026-05-01T10:00:05Z", "2026-05-01T10:00:03Z"].map((at) => new Date(at));
    for (const at of times) db.apiKeyStore.touch(apiKey.id, at);
    db.apiKeyStore.touch(other.id, times[0]);
    expect((await db.apiKeys.get(apiKey.id))!.lastUsedAt).to.equal(null);

    const instance = await opened.openInstance({ keyTouchFlushMs: 60_000 });
    instance.apiKeyStore.touch(apiKey.id, new Date("2026-05-01T10:00:04Z"));
    await instance.close();
    expect((await db.apiKeys.get(apiKey.id))!.lastUsedAt!.toISOString()).to.equal("2026-05-01T10:00:04.000Z");

    await db.close();
    db = await opened.openInstance({ keyTouchFlushMs: 60_000 });
    expect((await db.apiKeys.get(apiKey.id))!.lastUsedAt!.toISOString()).to.equal("2026-05-01T10:00:05.000Z");
    expect((await db.apiKeys.get(other.id))!.lastUsedAt!.toISOString()).to.equal("2026-05-01T10:00:02.000Z");
  });

  it("flush their uses on a timer", async () => {
    const instance = await opened.openInstance({ keyTouchFlushMs: 20 });
    const { apiKey } = await instance.apiKeys.create({ account: randomAddress(), name: "timed" });
    instance.apiKeyStore.touch(apiKey.id, new Date("2026-05-02T00:00:00Z"));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await instance.apiKeys.get(apiKey.id))!.lastUsedAt!.toISOString()).to.equal("2026-05-02T00:00:00.000Z");
  });
});
