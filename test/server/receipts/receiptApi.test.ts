import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { Wallet } from "ethers";
import pino from "pino";
import { start, type RunningGateway } from "../../../server/app";
import { loadConfig } from "../../../server/config";
import { connectEscrowReader } from "../../../server/chain/escrowReader";
import { MemoryRateLimiter } from "../../../server/domain/rateLimit";
import { findFreePort } from "../../../server/persistence/freePort";
import { pgPoolOf } from "../../../server/persistence/pgPool";
import { parseProviderVouchers } from "../../../server/providers-selfservice/voucherFile";
import { parseReceiptBundle } from "../../../server/settlement/receiptBundle";
import { verifyReceipt } from "../../../server/settlement/verifyReceipt";
import { loadWebConfig, postgresWebStores } from "../../../server/web";
import { receiptRoutes } from "../../../server/web/receipts/receiptRoutes";
import type { FundedKey } from "../persistence/fixtures";
import { runShareai } from "../cli/support/runInProcess";
import { Browser, signIn } from "../web/support/browser";
import { providerAddress, startSettlementHarness, USDC, type SettlementHarness } from "../workers/settlementHarness";

/**
 * GET /api/usage/{requestId}/receipt and GET /api/providers/{address}/vouchers on a real gateway
 * over the settlement harness's database and chain, and `shareai verify-receipt` on what it serves.
 */
describe("receipts: the receipt API and shareai verify-receipt (hardhat node, Postgres)", function () {
  this.timeout(60_000);
  let harness: SettlementHarness;
  let gateway: RunningGateway;
  let serverUrl: string;
  let origin: string;
  let dir: string;
  const INTERVAL_MS = 600_000;

  before(async () => {
    harness = await startSettlementHarness();
    dir = mkdtempSync(path.join(os.tmpdir(), "shareai-receipts-"));
    const port = await findFreePort();
    origin = `http://127.0.0.1:${port}`;
    const env = { PORT: String(port), PUBLIC_BASE_URL: origin, LOG_LEVEL: "silent", API_KEY_CACHE_TTL_MS: "0", HEALTH_CHECK_INTERVAL_MS: "600000" };
    const { db } = harness;
    gateway = await start({
      config: loadConfig(env),
      logger: pino({ level: "silent" }),
      ports: {
        apiKeys: db.apiKeyStore,
        models: db.modelCatalog,
        upstreams: db.upstreamDirectory,
        ledger: db.ledger,
        rateLimiter: new MemoryRateLimiter(),
        readiness: db.readiness,
      },
      web: {
        stores: postgresWebStores(db),
        config: loadWebConfig(env),
        extraRoutes: receiptRoutes({
          pool: pgPoolOf(db.dataSource),
          escrow: { address: harness.escrowAddress.toLowerCase(), chainId: 31337n },
          settlementIntervalMs: INTERVAL_MS,
          settlementPollMs: 1_000,
        }),
      },
    });
    serverUrl = `http://127.0.0.1:${gateway.port}`;
  });

  after(async () => {
    await gateway?.stop();
    await harness?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A signed-in wallet's account with an API key, funded on chain. */
  async function signedInPayer(): Promise<{ funded: FundedKey; browser: Browser }> {
    const wallet = new Wallet(Wallet.createRandom().privateKey);
    const browser = new Browser(serverUrl, origin);
    const response = await signIn(browser, wallet);
    expect(response.status, response.text).to.equal(200);
    const account = wallet.address.toLowerCase();
    await harness.deposit(account, 100n * USDC);
    const { apiKey, secret } = await harness.db.apiKeys.create({ account, name: "used" });
    return { funded: { account, key: apiKey, secret }, browser };
  }

  const getWithKey = (url: string, secret: string) =>
    new Browser(serverUrl, origin).get(url, { headers: { authorization: `Bearer ${secret}` } });

  it("serves the bundle to the key that made the request and the account's session, 404 to anyone else, 409 before its voucher", async () => {
    const alice = await signedInPayer();
    const mallory = await signedInPayer();
    const sibling = await harness.db.apiKeys.create({ account: alice.funded.account, name: "sibling" });
    const p1 = providerAddress(harness, 10);
    const [first, second] = await harness.meter(alice.funded, p1, [1_500_000n, 700_000n, 3n]);
    const url = `/api/usage/${first}/receipt`;

    // Not in a voucher yet: 409 with when it will be.
    const early = await getWithKey(url, alice.funded.secret);
    expect(early.status, early.text).to.equal(409);
    expect(early.body.error.code).to.equal("receipt_not_ready");
    expect(early.body.error.message).to.match(/at the latest/);
    const retryAfter = Number(early.headers.get("retry-after"));
    expect(retryAfter).to.be.greaterThan(INTERVAL_MS / 1000 - 30).and.at.most(INTERVAL_MS / 1000 + 1);
    // Below one base unit, no voucher comes until more usage: said so, and not worth retrying.
    const tiny = await harness.payer(10n * USDC);
    const [tinyId] = await harness.meter(tiny, p1, [10n]);
    const below = await getWithKey(`/api/usage/${tinyId}/receipt`, tiny.secret);
    expect(below.status).to.equal(409);
    expect(below.body.error.message).to.match(/below one base unit/);
    expect(below.headers.get("x-should-retry")).to.equal("false");

    const worker = await harness.startWorker();
    const report = await worker.tick();
    expect(report.transactionsFinal, JSON.stringify(report.warnings)).to.be.at.least(1);
    await harness.stopWorkers();

    const byKey = await getWithKey(url, alice.funded.secret);
    expect(byKey.status, byKey.text).to.equal(200);
    expect(byKey.body.voucherState).to.equal("final");
    const bySession = await alice.browser.get(url);
    expect(bySession.status).to.equal(200);
    expect(bySession.body.receipt).to.deep.equal(byKey.body.receipt);

    expect((await getWithKey(url, sibling.secret)).status, "another key of the same account").to.equal(404);
    expect((await getWithKey(url, mallory.funded.secret)).status).to.equal(404);
    expect((await mallory.browser.get(url)).status).to.equal(404);
    expect((await getWithKey("/api/usage/req-nope/receipt", alice.funded.secret)).status).to.equal(404);
    expect((await new Browser(serverUrl, origin).get(url)).status).to.equal(401);

    // The bundle verifies against the real chain, and its receipt time is the record's, floored.
    const bundle = parseReceiptBundle(byKey.body);
    const [row] = await harness.db.dataSource.query(
      "SELECT created_at, cost_micros FROM usage_records WHERE request_id = $1",
      [first],
    );
    expect(bundle.receipt.createdAt).to.equal(Math.floor(new Date(row.created_at).getTime() / 1000));
    expect(bundle.receipt.costMicros).to.equal(1_500_000n);
    expect(bundle.receiptCount).to.equal(3);
    expect(bundle.settlement?.txHash).to.match(/^0x[0-9a-f]{64}$/);
    const reader = await connectEscrowReader(harness.provider, harness.escrowAddress);
    const verdict = await verifyReceipt(bundle, reader);
    expect(verdict, JSON.stringify(verdict)).to.deep.include({ isValid: true });
    const other = parseReceiptBundle((await getWithKey(`/api/usage/${second}/receipt`, alice.funded.secret)).body);
    expect((await verifyReceipt(other, reader)).isValid).to.equal(true);

    // verify-receipt: the good bundle, a tampered one, and one checked against another escrow.
    const good = path.join(dir, "good.json");
    writeFileSync(good, byKey.text);
    const env = { RPC_URL: harness.node.url, ESCROW_ADDRESS: harness.escrowAddress, LOG_LEVEL: "silent" };
    const ok = await runShareai(env, "verify-receipt", good);
    expect(ok.code, ok.stderr + ok.stdout).to.equal(0);
    expect(ok.stdout).to.match(/^VALID: request /m);
    expect(ok.stdout).to.include("is an authorised settlement signer of the escrow");
    expect(ok.stdout.match(/^✓ /gm)).to.have.length(7);

    const tampered = path.join(dir, "tampered.json");
    const json = JSON.parse(byKey.text);
    json.receipt.costMicros = "1400000";
    writeFileSync(tampered, JSON.stringify(json));
    const bad = await runShareai(env, "verify-receipt", tampered);
    expect(bad.code).to.equal(1);
    expect(bad.stdout).to.match(/^✗ /m);
    expect(bad.stdout).to.include("NOT PROVEN (receipt_not_in_voucher)");

    const elsewhere = await runShareai({ ...env, ESCROW_ADDRESS: await harness.usdc.getAddress() }, "--json", "verify-receipt", good);
    expect(elsewhere.code).to.equal(1);
    expect(JSON.parse(elsewhere.stdout)).to.deep.include({ isValid: false, invalidReason: "escrow_mismatch" });

    // The provider's vouchers: public, the latest per payer; the CLI reads the same through --from-url.
    const vouchers = await new Browser(serverUrl, origin).get(`/api/providers/${p1}/vouchers`);
    expect(vouchers.status).to.equal(200);
    const file = parseProviderVouchers(vouchers.body);
    expect(file.escrow?.address).to.equal(harness.escrowAddress.toLowerCase());
    const alices = file.vouchers.find((v) => v.voucher.payer === alice.funded.account);
    expect(alices?.voucher.cumulativeAmount).to.equal(2n); // 2.200003 base units, floored
    expect(alices?.signature).to.equal(bundle.signature);
    const out = path.join(dir, "vouchers.json");
    const exported = await runShareai(env, "provider", "vouchers", "--address", p1, "--from-url", `${serverUrl}/v1`, "--out", out);
    expect(exported.code, exported.stderr).to.equal(0);
    expect(parseProviderVouchers(JSON.parse(readFileSync(out, "utf8"))).vouchers).to.deep.equal(file.vouchers);
    expect((await new Browser(serverUrl, origin).get("/api/providers/0x12/vouchers")).status).to.equal(400);
  });
});
