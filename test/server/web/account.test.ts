import { expect } from "chai";
import {
  ESCROW_ADDRESS,
  MODEL,
  recordUsage,
  startWebHarness,
  TOKEN_ADDRESS,
  type WebHarness,
} from "./support/webHarness";

const THAW_ENDS_AT = new Date("2026-03-01T12:00:00.000Z");

describe("web API: account balance", () => {
  let harness: WebHarness;

  before(async () => {
    harness = await startWebHarness({ web: { thawEndsAt: async () => THAW_ENDS_AT } });
    await harness.db.models.upsert(MODEL);
  });

  after(async () => {
    await harness.close();
  });

  it("splits the balance into available, held, unsettled and thawing, to the micro unit", async () => {
    const { browser, address } = await harness.signedIn();
    const keyId = (await browser.post("/api/keys", { name: "k" })).body.key.id;
    await harness.db.accounts.setOnChainBalance(address, 20_000_000n, 5_000_000n);
    await recordUsage(harness, { account: address, keyId, modelId: MODEL.id, costMicros: 1_234_567n, at: new Date() });
    await recordUsage(harness, {
      account: address,
      keyId,
      modelId: MODEL.id,
      costMicros: 2_000_000_000n,
      at: new Date(),
    });
    // A request in flight: its hold is reserved and not yet committed.
    const inFlight = await harness.db.ledger.reserve({
      requestId: "in-flight-1",
      account: address,
      keyId,
      modelId: MODEL.id,
      amountMicros: 3_000_000n,
      ttlMs: 600_000,
    });
    expect(inFlight.ok).to.equal(true);

    const response = await browser.get("/api/account");
    expect(response.status).to.equal(200);
    expect(response.headers.get("cache-control")).to.equal("no-store");
    const { balance } = response.body;
    expect(response.body.address).to.equal(address);
    const unsettled = 1_234_567n + 2_000_000_000n;
    const held = 3_000_000n;
    const available = 20_000_000n * 1_000_000n - unsettled - held;
    expect(balance.available).to.deep.equal({
      micros: available.toString(),
      base: "19997995.765433",
      usdc: "19.997995765433",
    });
    expect(balance.held).to.deep.equal({ micros: "3000000", base: "3", usdc: "0.000003" });
    expect(balance.unsettled).to.deep.equal({
      micros: unsettled.toString(),
      base: "2001.234567",
      usdc: "0.002001234567",
    });
    expect(balance.thawing).to.deep.equal({ micros: "5000000000000", base: "5000000", usdc: "5" });
    expect(balance.thaw_ends_at).to.equal(THAW_ENDS_AT.toISOString());
    expect(balance.onchain_available).to.deep.equal({ micros: "20000000000000", base: "20000000", usdc: "20" });
    expect(response.body.chain).to.deep.equal({
      chain_id: 31337,
      escrow_address: ESCROW_ADDRESS,
      token_address: TOKEN_ADDRESS,
    });
  });

  it("shows available as 0, never negative, when usage outran the deposit; no thaw date without thawing funds", async () => {
    const { browser, address } = await harness.signedIn();
    const keyId = (await browser.post("/api/keys", { name: "k" })).body.key.id;
    await harness.db.accounts.setOnChainBalance(address, 1n, 0n);
    // An upstream that ignored max_tokens: the cost exceeds the hold and the deposit.
    await recordUsage(harness, {
      account: address,
      keyId,
      modelId: MODEL.id,
      holdMicros: 1_000_000n,
      costMicros: 5_000_000n,
      at: new Date(),
    });
    const { balance } = (await browser.get("/api/account")).body;
    expect(balance.available).to.deep.equal({ micros: "0", base: "0", usdc: "0" });
    expect(balance.unsettled.micros).to.equal("5000000");
    expect(balance.thaw_ends_at).to.equal(null);
  });

  it("is zero for a new account, and private", async () => {
    const { browser } = await harness.signedIn();
    const { balance } = (await browser.get("/api/account")).body;
    for (const part of ["available", "held", "unsettled", "thawing", "onchain_available"]) {
      expect(balance[part], part).to.deep.equal({ micros: "0", base: "0", usdc: "0" });
    }
    expect((await harness.browser().get("/api/account")).status).to.equal(401);
  });
});
