import { expect } from "chai";
import { startWebHarness, type WebHarness } from "./support/webHarness";

async function nonceRows(harness: WebHarness): Promise<number> {
  const [{ count }] = await harness.db.dataSource.query("SELECT count(*)::int AS count FROM siwe_nonces");
  return count;
}

describe("web API: sign-in attempts per client address", () => {
  describe("clients connecting directly", () => {
    let harness: WebHarness;
    before(async () => {
      harness = await startWebHarness({ env: { SIGN_IN_ATTEMPTS_PER_MINUTE: "3" } });
    });
    after(async () => harness.close());

    it("answers 429 rate_limit_exceeded with retry-after past the limit, and stores no nonce for it", async () => {
      const browser = harness.browser();
      for (let i = 0; i < 3; i++) expect((await browser.get("/api/auth/nonce")).status).to.equal(200);
      const before = await nonceRows(harness);

      const refused = await browser.get("/api/auth/nonce");
      expect(refused.status).to.equal(429);
      expect(refused.body.error.code).to.equal("rate_limit_exceeded");
      expect(Number(refused.headers.get("retry-after"))).to.be.greaterThan(0);
      expect(await nonceRows(harness), "no nonce stored for a refused attempt").to.equal(before);

      // Verifications count against the same budget: a flood of signatures to recover is refused too.
      const verify = await browser.post("/api/auth/verify", { message: "x", signature: "0x00" });
      expect(verify.status).to.equal(429);
    });

    it("ignores X-Forwarded-For when no proxy is trusted: a client cannot pose as another address", async () => {
      const spoofed = await harness.browser().get("/api/auth/nonce", { headers: { "x-forwarded-for": "203.0.113.9" } });
      expect(spoofed.status).to.equal(429);
    });
  });

  describe("behind a trusted proxy (TRUST_PROXY=true)", () => {
    let harness: WebHarness;
    before(async () => {
      harness = await startWebHarness({ env: { SIGN_IN_ATTEMPTS_PER_MINUTE: "2", TRUST_PROXY: "true" } });
    });
    after(async () => harness.close());

    const from = (address: string, claimed?: string) => ({
      headers: { "x-forwarded-for": claimed ? `${claimed}, ${address}` : address },
    });

    it("counts each client address the proxy saw on its own", async () => {
      const browser = harness.browser();
      for (let i = 0; i < 2; i++) expect((await browser.get("/api/auth/nonce", from("198.51.100.1"))).status).to.equal(200);
      expect((await browser.get("/api/auth/nonce", from("198.51.100.1"))).status).to.equal(429);
      expect((await browser.get("/api/auth/nonce", from("198.51.100.2"))).status, "another client").to.equal(200);
    });

    it("takes the address the proxy appended, not one the client put in front of it", async () => {
      const browser = harness.browser();
      const claims = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];
      const statuses = [];
      for (const claimed of claims) statuses.push((await browser.get("/api/auth/nonce", from("198.51.100.7", claimed))).status);
      expect(statuses).to.deep.equal([200, 200, 429]);
    });
  });
});
