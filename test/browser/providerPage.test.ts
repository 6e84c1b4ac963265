import { readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "chai";
import type { HDNodeWallet } from "ethers";
import OpenAI from "openai";
import type { Page } from "playwright-core";
import { DEMO_MODEL } from "../../server/demo/demoModel";
import { DEMO_PROVIDER } from "../../server/demo/demoProvider";
import { LOCAL_ROLES } from "../../server/main/chain/localAccounts";
import type { LocalNetwork } from "../../server/main/localNetwork";
import { MockUSDC__factory, UsageEscrow__factory } from "../../typechain-types";
import { SCREENSHOTS, startBrowserSession, type BrowserSession } from "./support/browserSupport";

/**
 * The Provider page in headless Chromium against the local network, signed in as the demo
 * provider (Hardhat account #2, which serves the demo echo model): it sees its upstream and its
 * earnings once the settlement worker has settled usage driven through the SDK, claims them
 * through the wallet, and downloads its signed vouchers; then adds a second upstream, edits and
 * enables it, and removes it.
 */
describe("the Provider page in a browser", function () {
  this.timeout(120_000);

  let session: BrowserSession;
  let network: LocalNetwork;
  let page: Page;
  let provider: HDNodeWallet;
  let origin: string;
  /** The upstream the page adds, edits and removes. */
  let secondUpstreamId: string;

  before(async function () {
    session = await startBrowserSession("provider-browser", { walletAccount: LOCAL_ROLES.demoProvider, downloads: true });
    ({ network, page, origin, wallet: provider } = session);
    expect(provider.address.toLowerCase()).to.equal(DEMO_PROVIDER.payoutAddress);
  });

  after(async () => {
    await session?.stop();
  });

  it("serves requests through the SDK, and the settlement worker settles them", async () => {
    const demo = network.demo!;
    const client = new OpenAI({ baseURL: network.url, apiKey: demo.apiKey, maxRetries: 0 });
    for (let i = 0; i < 3; i++) {
      const reply = await client.chat.completions.create({
        model: DEMO_MODEL.id,
        messages: [{ role: "user", content: `provider page ${i}` }],
      });
      expect(reply.choices[0].message.content).to.equal(`You said: provider page ${i}`);
    }
    const chain = network.localChain!;
    const escrow = UsageEscrow__factory.connect(chain.escrowAddress, chain.provider);
    const workers = network.gateway.chain!.workers;
    const deadline = Date.now() + 30_000;
    while ((await escrow.settledAmount(demo.account, provider.address)) === 0n) {
      expect(Date.now(), "settled within 30 s").to.be.below(deadline);
      await workers.worker.tick();
      await new Promise((wake) => setTimeout(wake, 300));
    }
    await workers.waitForMirror(await chain.provider.getBlockNumber());
    expect((await escrow.earningsOf(provider.address)) > 0n, "earnings to claim").to.equal(true);
  });

  it("signs in as the demo provider and sees its upstream, requests, tokens and earnings", async () => {
    await page.goto(`${origin}/provider`);
    await page.getByRole("button", { name: "Sign in with Ethereum" }).first().click();
    await page.getByTestId("signed-in-address").waitFor();
    await page.getByTestId("payout-address").waitFor();
    expect(await page.getByTestId("payout-address").innerText()).to.equal(DEMO_PROVIDER.payoutAddress);
    const row = page.locator("[data-testid=upstreams-table] tbody tr", { hasText: DEMO_MODEL.id });
    await row.waitFor();
    expect(await row.innerText()).to.include(network.demo!.upstreamBaseUrl);
    expect(Number(await page.getByTestId("requests-served").innerText())).to.be.at.least(3);
    expect(Number((await page.getByTestId("tokens-served").innerText()).replace(/\D/g, ""))).to.be.greaterThan(0);

    const unclaimedBase = await UsageEscrow__factory.connect(network.localChain!.escrowAddress, network.localChain!.provider).earningsOf(
      provider.address,
    );
    const unclaimed = page.getByTestId("tile-unclaimed").locator(".money");
    expect(await unclaimed.getAttribute("title")).to.equal(`${unclaimedBase} base units (1 USDC = 1,000,000)`);

    await row.getByRole("button", { name: "Check now" }).click();
    await row.getByTestId("upstream-health").getByText(/healthy/).waitFor({ timeout: 10_000 });
  });

  it("claims its earnings through the wallet: its USDC balance goes up by exactly the unclaimed amount", async () => {
    const chain = network.localChain!;
    const usdc = MockUSDC__factory.connect(chain.tokenAddress, chain.provider);
    const escrow = UsageEscrow__factory.connect(chain.escrowAddress, chain.provider);
    const unclaimed = await escrow.earningsOf(provider.address);
    const before = await usdc.balanceOf(provider.address);
    const section = page.getByTestId("claim");
    await section.getByRole("button", { name: "Claim earnings" }).click();
    await section.getByTestId("claim-progress").waitFor();
    await section.getByTestId("claim-status").waitFor({ timeout: 30_000 });
    expect((await usdc.balanceOf(provider.address)) - before).to.equal(unclaimed);
    expect(await escrow.earningsOf(provider.address)).to.equal(0n);
    const tile = page.getByTestId("tile-unclaimed").locator(".money");
    const deadline = Date.now() + 20_000;
    while ((await tile.getAttribute("title")) !== "0 base units (1 USDC = 1,000,000)") {
      expect(Date.now(), "the page shows the claim within 20 s").to.be.below(deadline);
      await new Promise((wake) => setTimeout(wake, 250));
    }
    expect(await page.getByTestId("tile-claimed").locator(".money").getAttribute("title")).to.equal(
      `${unclaimed} base units (1 USDC = 1,000,000)`,
    );
  });

  it("downloads its signed vouchers as a file for self-settlement", async () => {
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download signed vouchers" }).click(),
    ]);
    expect(download.suggestedFilename()).to.equal(`shareai-vouchers-${DEMO_PROVIDER.payoutAddress}.json`);
    const file = JSON.parse(readFileSync((await download.path())!, "utf8"));
    expect(file.format).to.equal("shareai-provider-vouchers/1");
    expect(file.vouchers.length).to.be.at.least(1);
    expect(file.vouchers[0].payer ?? file.vouchers[0].voucher?.payer).to.be.a("string");
    await page.getByTestId("vouchers-saved").waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, "provider.png"), fullPage: true });
  });

  it("adds an upstream that fails its check, fixes its address with Edit, and enables it", async () => {
    const echo = network.demo!.upstreamBaseUrl;
    const form = page.getByTestId("add-upstream");
    await form.getByTestId("upstream-url").fill(`${echo}/wrong`);
    await form.getByTestId("upstream-models").fill(DEMO_MODEL.id);
    await form.getByRole("button", { name: "Check and add" }).click();
    const row = page.locator("[data-testid=upstreams-table] tbody tr", { hasText: `${echo}/wrong` });
    await row.getByText("GET /models answered HTTP 404.").waitFor({ timeout: 10_000 });
    expect(await row.locator("td").nth(3).innerText()).to.equal("no");
    secondUpstreamId = (await row.getAttribute("data-upstream-id"))!;
    const byId = page.locator(`[data-upstream-id="${secondUpstreamId}"]`);

    await row.getByRole("button", { name: "Edit" }).click();
    const edit = page.getByTestId("edit-upstream");
    expect(await edit.getByTestId("edit-upstream-url").inputValue()).to.equal(`${echo}/wrong`);
    expect(await edit.getByTestId("edit-upstream-models").inputValue()).to.equal(DEMO_MODEL.id);
    await edit.getByTestId("edit-upstream-url").fill(echo);
    await page.screenshot({ path: path.join(SCREENSHOTS, "provider-upstream-edit.png"), fullPage: true });
    await edit.getByRole("button", { name: "Check and save" }).click();
    await edit.waitFor({ state: "detached" });
    await byId.locator("td").first().getByText(echo, { exact: true }).waitFor();
    await byId.getByTestId("upstream-health").getByText(/healthy/).waitFor({ timeout: 10_000 });
    expect(await byId.locator("td").nth(2).innerText()).to.equal("none");

    // It was saved disabled by the failed check; the fix leaves that to the provider.
    await byId.getByRole("button", { name: "Enable" }).click();
    await byId.getByRole("button", { name: "Disable" }).waitFor();
    expect(await byId.locator("td").nth(3).innerText()).to.equal("yes");
    const targets = await network.database.upstreamDirectory.upstreamsFor(DEMO_MODEL.id);
    expect(targets.find((t) => t.id === secondUpstreamId)).to.deep.include({ baseUrl: echo, apiKey: null });
  });

  it("removes that upstream after confirming; the demo upstream keeps serving, and health stays stored", async () => {
    const byId = page.locator(`[data-upstream-id="${secondUpstreamId}"]`);
    await byId.getByRole("button", { name: "Remove" }).click();
    await byId.getByText("Remove? Requests stop going to it; its usage history stays.").waitFor();
    await byId.getByRole("button", { name: "Yes, remove" }).click();
    await byId.waitFor({ state: "detached" });
    expect(await page.locator("[data-testid=upstreams-table] tbody tr").count()).to.equal(1);
    await page.screenshot({ path: path.join(SCREENSHOTS, "provider-upstream-removed.png"), fullPage: true });

    const [removed] = await network.database.dataSource.query(
      "SELECT enabled, api_key_ciphertext, removed_at FROM upstreams WHERE id = $1",
      [secondUpstreamId],
    );
    expect(removed.enabled).to.equal(false);
    expect(removed.removed_at).to.be.instanceOf(Date);
    const targets = await network.database.upstreamDirectory.upstreamsFor(DEMO_MODEL.id);
    expect(targets.map((t) => t.id)).to.not.include(secondUpstreamId);

    const client = new OpenAI({ baseURL: network.url, apiKey: network.demo!.apiKey, maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: DEMO_MODEL.id, messages: [{ role: "user", content: "still here" }] });
    expect(reply.choices[0].message.content).to.equal("You said: still here");

    // The demo upstream's last check (Check now, above) is in Postgres: a reload shows it, as would a restarted gateway.
    await page.reload();
    const demoRow = page.locator("[data-testid=upstreams-table] tbody tr", { hasText: DEMO_MODEL.id });
    await demoRow.getByTestId("upstream-health").getByText(/healthy/).waitFor({ timeout: 10_000 });
  });
});
