import { expect } from "chai";
import { openDatabase, type Database } from "../../../server/persistence";
import { pgPoolOf } from "../../../server/persistence/pgPool";
import { PostgresNonceStore, PostgresSessionStore } from "../../../server/persistence/sessions";
import { newToken, sha256Hex } from "../../../server/web/auth/tokens";
import { createTestDatabase, type TestDatabase } from "../../support/database";

describe("sign-in nonces and sessions in Postgres", () => {
  let testDatabase: TestDatabase;
  let db: Database;
  let nonces: PostgresNonceStore;
  let sessions: PostgresSessionStore;
  const t0 = new Date("2026-01-01T00:00:00.000Z");
  const at = (ms: number) => new Date(t0.getTime() + ms);
  const binding = sha256Hex("browser-a");

  before(async () => {
    testDatabase = await createTestDatabase();
    db = await openDatabase({ databaseUrl: testDatabase.url });
    nonces = new PostgresNonceStore(pgPoolOf(db.dataSource));
    sessions = new PostgresSessionStore(pgPoolOf(db.dataSource));
  });

  after(async () => {
    await db.close();
    await testDatabase.drop();
  });

  const claim = (nonce: string, overrides: Partial<Parameters<PostgresNonceStore["consume"]>[0]> = {}) => ({
    nonce,
    domain: "shareai.example",
    chainId: 31337,
    bindingSha256: binding,
    now: at(1000),
    ...overrides,
  });

  it("spends a nonce once, and only for its domain, chain and browser, before it expires", async () => {
    await nonces.issue({
      nonce: "nonceAAAA1111",
      domain: "shareai.example",
      chainId: 31337,
      bindingSha256: binding,
      now: t0,
      ttlMs: 60_000,
    });
    expect(await nonces.consume(claim("nonceAAAA1111", { domain: "evil.example" }))).to.equal(false);
    expect(await nonces.consume(claim("nonceAAAA1111", { chainId: 1 }))).to.equal(false);
    expect(await nonces.consume(claim("nonceAAAA1111", { bindingSha256: sha256Hex("browser-b") }))).to.equal(false);
    expect(await nonces.consume(claim("nonceAAAA1111", { now: at(60_000) })), "expired").to.equal(false);
    expect(await nonces.consume(claim("nonceAAAA1111"))).to.equal(true);
    expect(await nonces.consume(claim("nonceAAAA1111")), "spent").to.equal(false);
  });

  it("lets one of many concurrent claims spend a nonce", async () => {
    await nonces.issue({
      nonce: "nonceBBBB2222",
      domain: "shareai.example",
      chainId: 31337,
      bindingSha256: binding,
      now: t0,
      ttlMs: 60_000,
    });
    const results = await Promise.all(Array.from({ length: 20 }, () => nonces.consume(claim("nonceBBBB2222"))));
    expect(results.filter(Boolean)).to.have.length(1);
  });

  it("deletes expired nonces when issuing new ones", async () => {
    await nonces.issue({
      nonce: "nonceCCCC3333",
      domain: "d",
      chainId: 1,
      bindingSha256: binding,
      now: t0,
      ttlMs: 10_000,
    });
    await nonces.issue({
      nonce: "nonceDDDD4444",
      domain: "d",
      chainId: 1,
      bindingSha256: binding,
      now: at(20_000),
      ttlMs: 10_000,
    });
    const rows = await db.dataSource.query("SELECT nonce FROM siwe_nonces WHERE nonce LIKE 'nonce%' ORDER BY nonce");
    expect(rows.map((r: { nonce: string }) => r.nonce)).to.not.include("nonceCCCC3333");
  });

  it("finds a session by its hash until it expires or is deleted, and creates the account", async () => {
    const id = newToken();
    const address = "0x00000000000000000000000000000000000000Ab";
    await sessions.create({
      idSha256: sha256Hex(id),
      account: address,
      csrfSha256: sha256Hex(newToken()),
      chainId: 31337,
      createdAt: t0,
      expiresAt: at(60_000),
    });
    expect(await sessions.find(sha256Hex(id), at(59_999))).to.include({
      account: address.toLowerCase(),
      chainId: 31337,
    });
    expect(await sessions.find(sha256Hex(id), at(60_000))).to.equal(null);
    expect(await db.accounts.getBalance(address)).to.include({ unsettledMicros: 0n });
    await sessions.delete(sha256Hex(id));
    expect(await sessions.find(sha256Hex(id), at(1))).to.equal(null);
  });
});
