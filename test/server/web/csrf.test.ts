import { expect } from "chai";
import { startWebHarness, type WebHarness } from "./support/webHarness";

/** Every state-changing call is refused (403 csrf_failed) unless it comes from the site with the session's token. */
describe("web API: CSRF protection", () => {
  let harness: WebHarness;

  before(async () => {
    harness = await startWebHarness();
  });

  after(async () => {
    await harness.close();
  });

  async function keysOf(account: string) {
    return harness.db.apiKeys.list(account);
  }

  const forgeries: Array<{ name: string; headers: Record<string, string | null> }> = [
    { name: "without the x-csrf-token header", headers: { "x-csrf-token": null } },
    { name: "with a token that does not match the cookie", headers: { "x-csrf-token": "B".repeat(43) } },
    { name: "from another origin", headers: { origin: "https://evil.example" } },
    { name: "from a look-alike origin", headers: { origin: "http://127.0.0.1.evil.example" } },
    { name: "with neither Origin nor Referer", headers: { origin: null } },
    { name: "marked cross-site by the browser", headers: { "sec-fetch-site": "cross-site" } },
  ];

  for (const forgery of forgeries) {
    it(`refuses creating, editing and revoking keys ${forgery.name}, and nothing changes`, async () => {
      const { browser, address } = await harness.signedIn();
      const { key } = (await browser.post("/api/keys", { name: "kept" })).body;
      const before = await keysOf(address);

      const attempts = [
        await browser.post("/api/keys", { name: "forged" }, { headers: forgery.headers }),
        await browser.patch(`/api/keys/${key.id}`, { name: "forged" }, { headers: forgery.headers }),
        await browser.delete(`/api/keys/${key.id}`, { headers: forgery.headers }),
      ];
      for (const response of attempts) {
        expect(response.status, response.text).to.equal(403);
        expect(response.body.error).to.include({ code: "csrf_failed", type: "invalid_request_error" });
        expect(response.headers.get("x-should-retry")).to.equal("false");
      }
      expect(await keysOf(address)).to.deep.equal(before);
    });
  }

  it("accepts a same-origin Referer when the Origin header is absent", async () => {
    const { browser } = await harness.signedIn();
    const response = await browser.post(
      "/api/keys",
      { name: "via referer" },
      {
        headers: { origin: null, referer: `${harness.origin}/keys` },
      }
    );
    expect(response.status).to.equal(201);
  });

  it("refuses another session's token: the token is bound to the session, not just equal to the cookie", async () => {
    const alice = await harness.signedIn();
    const mallory = await harness.signedIn();
    // Mallory's own (valid) token pair, sent along with Alice's session cookie.
    const mixed = alice.browser.cookies;
    const malloryToken = mallory.browser.csrfToken!;
    const csrfName = [...mixed.keys()].find((name) => name.endsWith("shareai_csrf"))!;
    mixed.set(csrfName, malloryToken);
    const response = await alice.browser.post("/api/keys", { name: "forged" });
    expect(response.status).to.equal(403);
    expect(response.body.error.message).to.include("does not belong to this session");
    expect(await keysOf(alice.address)).to.deep.equal([]);
  });

  it("asks for a session before the token: 401 comes first when signed out", async () => {
    const response = await harness.browser().post("/api/keys", { name: "anonymous" });
    expect(response.status).to.equal(401);
  });

  it("lets reads through without a token", async () => {
    const { browser } = await harness.signedIn();
    expect((await browser.get("/api/keys", { headers: { origin: "https://evil.example" } })).status).to.equal(200);
  });
});
