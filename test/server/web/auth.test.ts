import { createHash } from "node:crypto";
import { expect } from "chai";
import { Wallet } from "ethers";
import { Browser, prepareSignIn, signIn } from "./support/browser";
import { startWebHarness, type WebHarness } from "./support/webHarness";

const MINUTE = 60_000;

function cookieLine(setCookies: string[], name: string): string {
  const line = setCookies.find((c) => c.startsWith(`${name}=`));
  if (!line) throw new Error(`no Set-Cookie for ${name} in ${JSON.stringify(setCookies)}`);
  return line;
}

describe("web API: Sign-In with Ethereum", () => {
  let harness: WebHarness;

  before(async () => {
    harness = await startWebHarness();
  });

  after(async () => {
    await harness.close();
  });

  function newWallet() {
    return new Wallet(Wallet.createRandom().privateKey);
  }

  async function sessionCount(): Promise<number> {
    const [{ count }] = await harness.db.dataSource.query("SELECT count(*)::int AS count FROM sessions");
    return count;
  }

  describe("nonce", () => {
    it("is fresh every time, bound to this site's domain and chain, and sets a readable CSRF cookie", async () => {
      const browser = harness.browser();
      const first = await browser.get("/api/auth/nonce");
      const second = await browser.get("/api/auth/nonce");
      expect(first.status).to.equal(200);
      expect(first.body).to.include({
        domain: new URL(harness.origin).host,
        uri: harness.origin,
        chain_id: 31337,
        version: "1",
      });
      expect(first.body.nonce).to.match(/^[A-Za-z0-9]{8,}$/);
      expect(second.body.nonce).to.not.equal(first.body.nonce);
      expect(Date.parse(first.body.expiration_time) - Date.parse(first.body.issued_at)).to.equal(10 * MINUTE);
      const csrf = cookieLine(first.setCookies, "shareai_csrf");
      expect(csrf).to.not.match(/HttpOnly/i);
      expect(csrf).to.match(/SameSite=Strict/);
      // The browser keeps its token: two tabs asking for nonces do not invalidate each other.
      expect(cookieLine(second.setCookies, "shareai_csrf")).to.include(browser.csrfToken!);
      expect(first.body.csrf_token).to.equal(browser.csrfToken);
    });
  });

  describe("verify", () => {
    it("signs in: the account is the lower-cased address, and the session cookie is HttpOnly, SameSite, opaque", async () => {
      const wallet = newWallet();
      const browser = harness.browser();
      const response = await signIn(browser, wallet);
      expect(response.status, response.text).to.equal(200);
      expect(response.body).to.include({ signed_in: true, address: wallet.address.toLowerCase(), chain_id: 31337 });

      const session = cookieLine(response.setCookies, "shareai_session");
      expect(session).to.match(/; HttpOnly/);
      expect(session).to.match(/; SameSite=Strict/);
      expect(session).to.match(/; Path=\//);
      expect(session).to.match(/; Max-Age=604800/);
      expect(session, "no Secure over plain http").to.not.match(/Secure/);
      const sessionId = browser.cookie("shareai_session")!;
      expect(sessionId).to.match(/^[A-Za-z0-9_-]{43}$/);

      // A new CSRF token for the session, readable by the page.
      expect(cookieLine(response.setCookies, "shareai_csrf")).to.not.match(/HttpOnly/);
      expect(response.body.csrf_token).to.equal(browser.csrfToken);

      // Postgres keeps only hashes.
      const rows = await harness.db.dataSource.query(
        "SELECT id_sha256, csrf_sha256, account FROM sessions WHERE account = $1",
        [wallet.address.toLowerCase()]
      );
      expect(rows).to.have.length(1);
      expect(rows[0].id_sha256).to.equal(createHash("sha256").update(sessionId).digest("hex"));
      expect(rows[0].csrf_sha256).to.equal(createHash("sha256").update(browser.csrfToken!).digest("hex"));
      expect(JSON.stringify(rows)).to.not.include(sessionId);

      const accounts = await harness.db.accounts.list();
      expect(accounts.map((a) => a.address)).to.include(wallet.address.toLowerCase());
      expect(await harness.db.accounts.getBalance(wallet.address)).to.include({ onchainAvailableBase: 0n });

      const current = await browser.get("/api/auth/session");
      expect(current.body).to.include({
        signed_in: true,
        address: wallet.address.toLowerCase(),
        csrf_token: browser.csrfToken,
      });
    });

    it("signs the same wallet in again as the same account", async () => {
      const wallet = newWallet();
      expect((await signIn(harness.browser(), wallet)).status).to.equal(200);
      expect((await signIn(harness.browser(), wallet)).status).to.equal(200);
      const accounts = (await harness.db.accounts.list()).filter((a) => a.address === wallet.address.toLowerCase());
      expect(accounts).to.have.length(1);
    });

    it("refuses a replayed message: the nonce is spent by the first sign-in", async () => {
      const wallet = newWallet();
      const browser = harness.browser();
      const { message, signature } = await prepareSignIn(browser, wallet);
      expect((await browser.post("/api/auth/verify", { message, signature })).status).to.equal(200);
      const before = await sessionCount();
      const replay = await browser.post("/api/auth/verify", { message, signature });
      expect(replay.status).to.equal(401);
      expect(replay.body.error).to.include({ code: "sign_in_failed", param: "nonce" });
      expect(replay.headers.get("x-should-retry")).to.equal("false");
      expect(await sessionCount()).to.equal(before);
    });

    it("lets exactly one of two concurrent sign-ins with the same nonce through", async () => {
      const wallet = newWallet();
      const browser = harness.browser();
      const { message, signature } = await prepareSignIn(browser, wallet);
      const results = await Promise.all(
        Array.from({ length: 5 }, () => browser.post("/api/auth/verify", { message, signature }))
      );
      expect(results.map((r) => r.status).sort()).to.deep.equal([200, 401, 401, 401, 401]);
    });

    const refusals: Array<{ name: string; fields: () => Parameters<typeof signIn>[2]; param: string }> = [
      { name: "a message for another domain", fields: () => ({ domain: "evil.example" }), param: "domain" },
      { name: "a message for another chain", fields: () => ({ chainId: 1 }), param: "chainId" },
      { name: "a URI on another origin", fields: () => ({ uri: "https://evil.example/login" }), param: "uri" },
      {
        name: "an expired message",
        fields: () => ({
          issuedAt: new Date(Date.now() - 2 * MINUTE).toISOString(),
          expirationTime: new Date(Date.now() - MINUTE).toISOString(),
        }),
        param: "expirationTime",
      },
      {
        name: "a message issued in the future",
        fields: () => ({ issuedAt: new Date(Date.now() + 30 * MINUTE).toISOString() }),
        param: "issuedAt",
      },
      {
        name: "a message issued long before its nonce could exist",
        fields: () => ({ issuedAt: new Date(Date.now() - 60 * MINUTE).toISOString() }),
        param: "issuedAt",
      },
      {
        name: "a message that is not valid yet",
        fields: () => ({ notBefore: new Date(Date.now() + 30 * MINUTE).toISOString() }),
        param: "notBefore",
      },
      { name: "a signature by another wallet", fields: () => ({ signer: newWallet() }), param: "signature" },
      { name: "a nonce that was never issued", fields: () => ({ nonce: "abcdefgh12345678" }), param: "nonce" },
      { name: "another scheme", fields: () => ({ scheme: "https" }), param: "scheme" },
    ];
    for (const refusal of refusals) {
      it(`refuses ${refusal.name} with 401 sign_in_failed, and creates no session`, async () => {
        const wallet = newWallet();
        const before = await sessionCount();
        const response = await signIn(harness.browser(), wallet, refusal.fields());
        expect(response.status, response.text).to.equal(401);
        expect(response.body.error).to.include({ code: "sign_in_failed", param: refusal.param });
        expect(response.setCookies.filter((c) => c.includes("shareai_session="))).to.deep.equal([]);
        expect(await sessionCount()).to.equal(before);
        const accounts = await harness.db.accounts.list();
        expect(accounts.map((a) => a.address)).to.not.include(wallet.address.toLowerCase());
      });
    }

    it("does not burn the nonce on a refused attempt: the right message still signs in", async () => {
      const wallet = newWallet();
      const browser = harness.browser();
      const { message } = await prepareSignIn(browser, wallet);
      const forged = await newWallet().signMessage(message);
      expect((await browser.post("/api/auth/verify", { message, signature: forged })).status).to.equal(401);
      const signature = await wallet.signMessage(message);
      expect((await browser.post("/api/auth/verify", { message, signature })).status).to.equal(200);
    });

    it("refuses a nonce issued to another browser (login CSRF), even with a valid signature", async () => {
      const wallet = newWallet();
      const attacker = harness.browser();
      const { message, signature } = await prepareSignIn(attacker, wallet);
      const victim = harness.browser();
      await victim.get("/api/auth/nonce");
      const response = await victim.post("/api/auth/verify", { message, signature });
      expect(response.status).to.equal(401);
      expect(response.body.error).to.include({ code: "sign_in_failed", param: "nonce" });
      // The nonce is still the attacker's browser's to use.
      expect((await attacker.post("/api/auth/verify", { message, signature })).status).to.equal(200);
    });

    it("answers malformed bodies and messages with 400 invalid_request_error", async () => {
      const browser = harness.browser();
      await browser.get("/api/auth/nonce");
      const notSiwe = await browser.post("/api/auth/verify", { message: "hello", signature: "0x1234" });
      expect(notSiwe.status).to.equal(400);
      expect(notSiwe.body.error).to.include({ code: "invalid_request_error", param: "message" });
      const missing = await browser.post("/api/auth/verify", { message: "hello" });
      expect(missing.status).to.equal(400);
      expect(missing.body.error.param).to.equal("signature");
      const extra = await browser.post("/api/auth/verify", { message: "x", signature: "0x00", admin: true });
      expect(extra.status).to.equal(400);
      const { message } = await prepareSignIn(browser, newWallet());
      const badSignature = await browser.post("/api/auth/verify", { message, signature: `0x${"11".repeat(65)}` });
      expect(badSignature.status).to.equal(401);
      expect(badSignature.body.error.param).to.equal("signature");
    });

    it("refuses a sign-in without the CSRF token or from another origin (403)", async () => {
      const wallet = newWallet();
      const browser = harness.browser();
      const { message, signature } = await prepareSignIn(browser, wallet);
      const noToken = await browser.post(
        "/api/auth/verify",
        { message, signature },
        { headers: { "x-csrf-token": null } }
      );
      expect(noToken.status).to.equal(403);
      expect(noToken.body.error.code).to.equal("csrf_failed");
      const otherOrigin = await browser.post(
        "/api/auth/verify",
        { message, signature },
        { headers: { origin: "https://evil.example" } }
      );
      expect(otherOrigin.status).to.equal(403);
      // Neither attempt spent the nonce.
      expect((await browser.post("/api/auth/verify", { message, signature })).status).to.equal(200);
    });
  });

  describe("session and logout", () => {
    it("says so when nobody is signed in", async () => {
      const response = await harness.browser().get("/api/auth/session");
      expect(response.status).to.equal(200);
      expect(response.body).to.include({ signed_in: false, address: null });
      expect(response.headers.get("cache-control")).to.equal("no-store");
    });

    it("answers 401 not_signed_in on a protected route without a session, or with a forged cookie", async () => {
      const anonymous = await harness.browser().get("/api/keys");
      expect(anonymous.status).to.equal(401);
      expect(anonymous.body.error).to.include({ code: "not_signed_in", type: "invalid_request_error" });
      const forged = harness.browser();
      forged.cookies.set("shareai_session", "A".repeat(43));
      expect((await forged.get("/api/account")).status).to.equal(401);
    });

    it("logout ends the session on the server: the old cookie no longer works", async () => {
      const { browser } = await harness.signedIn();
      const stolen = new Map(browser.cookies);
      expect((await browser.get("/api/account")).status).to.equal(200);

      const logout = await browser.post("/api/auth/logout");
      expect(logout.status).to.equal(204);
      expect(cookieLine(logout.setCookies, "shareai_session")).to.match(/Max-Age=0/);
      expect(browser.cookies.size).to.equal(0);
      expect((await browser.get("/api/account")).status).to.equal(401);

      const replay = new Browser(harness.serverUrl, harness.origin);
      for (const [name, value] of stolen) replay.cookies.set(name, value);
      expect((await replay.get("/api/account")).status).to.equal(401);
      expect((await replay.get("/api/auth/session")).body.signed_in).to.equal(false);
    });

    it("logout needs the CSRF token too", async () => {
      const { browser } = await harness.signedIn();
      const forged = await browser.post("/api/auth/logout", undefined, { headers: { origin: "https://evil.example" } });
      expect(forged.status).to.equal(403);
      expect((await browser.get("/api/account")).status).to.equal(200);
    });

    it("a new sign-in in the same browser replaces its session", async () => {
      const { browser, wallet } = await harness.signedIn();
      const firstId = browser.cookie("shareai_session")!;
      expect((await signIn(browser, wallet)).status).to.equal(200);
      const [{ count }] = await harness.db.dataSource.query(
        "SELECT count(*)::int AS count FROM sessions WHERE id_sha256 = $1",
        [createHash("sha256").update(firstId).digest("hex")]
      );
      expect(count).to.equal(0);
    });
  });
});

describe("web API: sign-in over https", () => {
  let harness: WebHarness;
  const site = "https://shareai.example";

  before(async () => {
    harness = await startWebHarness({ web: { publicBaseUrl: site } });
  });

  after(async () => {
    await harness.close();
  });

  it("uses Secure, __Host- prefixed cookies and the public host as the domain", async () => {
    const wallet = new Wallet(Wallet.createRandom().privateKey);
    const browser = harness.browser(site);
    const response = await signIn(browser, wallet);
    expect(response.status, response.text).to.equal(200);
    const session = cookieLine(response.setCookies, "__Host-shareai_session");
    expect(session).to.match(/; Secure/);
    expect(session).to.match(/; HttpOnly/);
    expect(session).to.not.match(/Domain=/i);
    expect(cookieLine(response.setCookies, "__Host-shareai_csrf")).to.match(/; Secure/);
    expect((await browser.get("/api/account")).body.address).to.equal(wallet.address.toLowerCase());
  });

  it("refuses a message for the listening address instead of the public one", async () => {
    const wallet = new Wallet(Wallet.createRandom().privateKey);
    const response = await signIn(harness.browser(site), wallet, { domain: new URL(harness.serverUrl).host });
    expect(response.status).to.equal(401);
    expect(response.body.error.param).to.equal("domain");
  });
});
