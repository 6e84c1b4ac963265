import { expect } from "chai";
import { GatewayError } from "../../../server/domain/errors/gatewayError";
import { principalMaySee, principalOf } from "../../../server/web";
import { MODEL, recordUsage, startWebHarness, type WebHarness } from "./support/webHarness";

/**
 * The key-or-session middleware the receipt route (issue 5, served by the
 * settlement module) is built from, exercised through `extraRoutes` with a
 * stand-in receipt route that reads the usage record.
 */
describe("web API: requireAccount (API key or session) for routes added by other modules", () => {
  let harness: WebHarness;

  before(async () => {
    harness = await startWebHarness({
      web: {
        extraRoutes: (router, kit) => {
          router.get("/api/usage/:requestId/receipt", ...kit.session, kit.requireAccount, async (ctx) => {
            const [record] = await harness.db.dataSource.query(
              "SELECT account, key_id FROM usage_records WHERE request_id = $1",
              [ctx.params.requestId]
            );
            const principal = principalOf(ctx);
            if (!record || !principalMaySee(principal, { account: record.account, keyId: record.key_id })) {
              throw new GatewayError(404, "request_not_found", "No such request.");
            }
            ctx.body = { request_id: ctx.params.requestId, via: principal.via };
          });
        },
      },
    });
    await harness.db.models.upsert(MODEL);
  });

  after(async () => {
    await harness.close();
  });

  it("lets the key that made the request and the account's session in, and nobody else", async () => {
    const alice = await harness.signedIn();
    const mallory = await harness.signedIn();
    const used = (await alice.browser.post("/api/keys", { name: "used" })).body;
    const sibling = (await alice.browser.post("/api/keys", { name: "sibling" })).body;
    const foreign = (await mallory.browser.post("/api/keys", { name: "foreign" })).body;
    await harness.db.accounts.setOnChainBalance(alice.address, 1_000_000n, 0n);
    const { requestId } = await recordUsage(harness, {
      account: alice.address,
      keyId: used.key.id,
      modelId: MODEL.id,
      costMicros: 10n,
      at: new Date(),
    });
    const path = `/api/usage/${requestId}/receipt`;
    const withKey = (secret: string) => harness.browser().get(path, { headers: { authorization: `Bearer ${secret}` } });

    const byKey = await withKey(used.secret);
    expect(byKey.status).to.equal(200);
    expect(byKey.body.via).to.equal("api_key");
    const bySession = await alice.browser.get(path);
    expect(bySession.status).to.equal(200);
    expect(bySession.body.via).to.equal("session");

    expect((await withKey(sibling.secret)).status, "another key of the same account").to.equal(404);
    expect((await withKey(foreign.secret)).status).to.equal(404);
    expect((await mallory.browser.get(path)).status).to.equal(404);

    const anonymous = await harness.browser().get(path);
    expect(anonymous.status).to.equal(401);
    expect(anonymous.body.error.code).to.equal("not_signed_in");
    const badKey = await withKey("sk-shareai-not-a-real-key-at-all-000000");
    expect(badKey.status).to.equal(401);
    expect(badKey.body.error.code).to.equal("invalid_api_key");
    // A request that presents a key is judged by the key alone, even with a session cookie.
    const both = await alice.browser.get(path, { headers: { authorization: `Bearer ${foreign.secret}` } });
    expect(both.status).to.equal(404);

    await alice.browser.delete(`/api/keys/${used.key.id}`);
    expect((await withKey(used.secret)).status, "a revoked key").to.equal(401);
  });
});
