import http from "node:http";
import path from "node:path";
import { expect } from "chai";
import type { HDNodeWallet } from "ethers";
import OpenAI from "openai";
import type { Page } from "playwright-core";
import { DEMO_MODEL } from "../../server/demo/demoModel";
import { FIRST_FREE_LOCAL_ACCOUNT } from "../../server/main/chain/localAccounts";
import type { LocalNetwork } from "../../server/main/localNetwork";
import { DEMO_PROVIDER } from "../../server/demo/demoProvider";
import { MockUSDC__factory, UsageEscrow__factory } from "../../typechain-types";
import { SCREENSHOTS, startBrowserSession, type BrowserSession } from "./support/browserSupport";

/**
 * The web app in headless Debian Chromium against the whole local network in this process, with a
 * test wallet injected as `window.ethereum` that signs with Hardhat account #7: sign in with
 * Ethereum, deposit with one permit signature, create a key and call the gateway with it through
 * the official SDK, see the usage on the Account page. A screenshot of each page goes to
 * test-output/screenshots/.
 */

describe("the web app in a browser", function () {
  this.timeout(90_000);

  let session: BrowserSession;
  let network: LocalNetwork;
  let page: Page;
  let user: HDNodeWallet;
  let origin: string;
  let secret: string;

  before(async function () {
    session = await startBrowserSession("browser", { walletAccount: FIRST_FREE_LOCAL_ACCOUNT + 1, usdcBase: 20_000_000n });
    ({ network, page, origin, wallet: user } = session);
  });

  after(async () => {
    await session?.stop();
  });

  it("shows the public model catalog with prices and providers online", async () => {
    await page.goto(`${origin}/`);
    const row = page.locator("[data-testid=models-table] tbody tr", { hasText: DEMO_MODEL.id });
    await row.waitFor();
    const cells = await row.locator("td").allInnerTexts();
    expect(cells[4].trim()).to.equal("1");
    // Money in USDC, the exact base units on hover.
    const price = row.locator(".money").first();
    expect(await price.getAttribute("title")).to.equal(`${DEMO_MODEL.promptRatePerMTok} base units (1 USDC = 1,000,000)`);
    await page.screenshot({ path: path.join(SCREENSHOTS, "models.png"), fullPage: true });
  });

  it("is served at / with an SPA fallback, leaving /api, /v1 and missing assets to their 404s", async () => {
    const deep = await fetch(`${origin}/account`);
    expect(deep.status).to.equal(200);
    expect(deep.headers.get("content-type")).to.match(/^text\/html/);
    expect(await deep.text()).to.include('<div id="root">');
    for (const reserved of ["/api/nope", "/v1/nope", "/assets/nope.js"]) {
      const res = await fetch(`${origin}${reserved}`);
      expect(res.status, reserved).to.equal(404);
      expect(res.headers.get("content-type"), reserved).to.match(/json/);
    }
  });

  it("never serves a file outside web/dist", async () => {
    // Sent as is (fetch would normalise it): an encoded traversal, decoded by the middleware.
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.get(`${origin}/..%2f..%2fpackage.json`, (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      request.on("error", reject);
    });
    expect(answer.status).to.equal(404);
    expect(answer.body).to.not.include("devDependencies");
  });

  it("signs in with Ethereum through the wallet", async () => {
    await page.getByRole("button", { name: "Sign in with Ethereum" }).first().click();
    await page.getByTestId("signed-in-address").waitFor();
    expect(await page.getByTestId("signed-in-address").getAttribute("title")).to.equal(user.address.toLowerCase());
    // SPA fallback: a deep link loads the app, and the session survives the reload.
    await page.goto(`${origin}/account`);
    await page.getByTestId("tile-available").waitFor();
  });

  it("says so in plain words when the user declines in the wallet", async () => {
    await page.evaluate(() => {
      (globalThis as unknown as { __testWalletReject?: string }).__testWalletReject = "eth_signTypedData_v4";
    });
    await page.getByTestId("deposit-amount").fill("5");
    await page.getByRole("button", { name: "Deposit with permit" }).click();
    await page.getByText("You declined the request in your wallet. Nothing was signed or sent.").waitFor();
  });

  it("deposits with one permit signature: signing → submitted → confirmed, then counted", async () => {
    await page.getByTestId("deposit-amount").fill("5");
    await page.getByRole("button", { name: "Deposit with permit" }).click();
    await page.getByTestId("deposit-progress").waitFor();
    await page.getByText("Deposit confirmed and counted in your balance.").waitFor({ timeout: 30_000 });
    const available = page.getByTestId("tile-available").locator(".money");
    await expect_text(available, "5 USDC");
    expect(await available.getAttribute("title")).to.match(/^5000000 base units/);
    await page.screenshot({ path: path.join(SCREENSHOTS, "account-deposit.png"), fullPage: true });
  });

  it("creates a key, shown once with an SDK snippet, and the key works with the openai SDK", async () => {
    await page.getByRole("link", { name: "API" }).click();
    await page.getByTestId("key-name").fill("browser");
    await page.getByRole("button", { name: "Create key" }).click();
    secret = (await page.getByTestId("secret").innerText()).trim();
    expect(secret).to.match(/^sk-shareai-/);
    expect(await page.getByTestId("created-key").innerText()).to.include(network.url);
    await page.locator("[data-testid=keys-table] tbody tr", { hasText: "browser" }).waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, "api-keys.png"), fullPage: true });

    const client = new OpenAI({ baseURL: network.url, apiKey: secret, maxRetries: 0 });
    for (let i = 0; i < 3; i++) {
      const reply = await client.chat.completions.create({
        model: DEMO_MODEL.id,
        messages: [{ role: "user", content: `hello from the browser test ${i}` }],
      });
      expect(reply.choices[0].message.content).to.equal(`You said: hello from the browser test ${i}`);
    }
  });

  it("edits a key's limits", async () => {
    const row = page.locator("[data-testid=keys-table] tbody tr", { hasText: "browser" });
    await row.getByRole("button", { name: "Edit" }).click();
    await page.getByTestId("edit-daily").fill("2.5");
    await page.getByTestId("edit-key").screenshot({ path: path.join(SCREENSHOTS, "api-key-edit.png") });
    await page.getByTestId("edit-key").getByRole("button", { name: "Save" }).click();
    await page.getByTestId("edit-key").waitFor({ state: "detached" });
    const cap = row.locator("td").nth(3).locator(".money");
    await expect_text(cap, "2.5 USDC");
    expect(await cap.getAttribute("title")).to.match(/^2500000 base units/);
  });

  it("creates a key with its limits set at once", async () => {
    await page.getByTestId("key-name").fill("limited");
    await page.getByTestId("new-key-limits").locator("summary").click();
    await page.getByTestId("new-key-models").fill(DEMO_MODEL.id);
    await page.getByTestId("new-key-rpm").fill("120");
    await page.getByTestId("new-key-total").fill("1.25");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByTestId("created-key").waitFor();
    const row = page.locator("[data-testid=keys-table] tbody tr", { hasText: "limited" });
    await expect_text(row.locator("td").nth(4), "120/min");
    expect(await row.locator("td").nth(2).innerText()).to.equal(DEMO_MODEL.id);
    const keys = (await page.evaluate(() => fetch("/api/keys").then((response) => response.json()))) as {
      data: { name: string; total_spend_cap: { base: string } | null; requests_per_minute: number | null }[];
    };
    const limited = keys.data.find((k) => k.name === "limited")!;
    expect(limited.total_spend_cap?.base).to.equal("1250000");
    expect(limited.requests_per_minute).to.equal(120);
    await page.getByTestId("new-key-limits").screenshot({ path: path.join(SCREENSHOTS, "api-key-create-limits.png") });
  });

  it("revokes a key only after confirmation", async () => {
    await page.getByTestId("key-name").fill("throwaway");
    await page.getByRole("button", { name: "Create key" }).click();
    const row = page.locator("[data-testid=keys-table] tbody tr", { hasText: "throwaway" });
    await row.getByRole("button", { name: "Revoke" }).click();
    await row.getByRole("button", { name: "Yes, revoke" }).click();
    await row.getByText("revoked").waitFor();
  });

  it("shows the usage on the Account page", async () => {
    await page.getByRole("link", { name: "Account" }).click();
    const rows = page.locator("[data-testid=usage-table] tbody tr");
    await rows.first().waitFor();
    expect(await rows.count()).to.equal(3);
    expect(await rows.first().innerText()).to.include(DEMO_MODEL.id);
    expect(await rows.first().innerText()).to.include("browser");
    await page.getByTestId("wallet-balance").waitFor();
    await page.getByTestId("withdrawal").getByText("On chain:").waitFor();
    const unsettled = page.getByTestId("tile-unsettled").locator(".money");
    expect(await unsettled.getAttribute("title")).to.match(/base units/);
    await page.screenshot({ path: path.join(SCREENSHOTS, "account-usage.png"), fullPage: true });
  });

  it("verifies a receipt on chain in the browser once the worker has settled", async () => {
    const chain = network.localChain!;
    const escrow = UsageEscrow__factory.connect(chain.escrowAddress, chain.provider);
    const workers = network.gateway.chain!.workers;
    const deadline = Date.now() + 30_000;
    while ((await escrow.settledAmount(user.address, DEMO_PROVIDER.payoutAddress)) === 0n) {
      expect(Date.now(), "settled within 30 s").to.be.below(deadline);
      await workers.worker.tick();
      await new Promise((wake) => setTimeout(wake, 300));
    }
    await workers.waitForMirror(await chain.provider.getBlockNumber());
    await page.reload();
    const rows = page.locator("[data-testid=usage-table] tbody tr");
    await rows.last().getByRole("button", { name: "Receipt" }).click();
    await page.getByTestId("verify-receipt").click();
    const verdict = page.getByTestId("verdict");
    await verdict.waitFor({ timeout: 20_000 });
    expect(await verdict.innerText()).to.include("Verified: this charge is proven on chain.");
    await page.getByTestId("receipt").screenshot({ path: path.join(SCREENSHOTS, "account-receipt.png") });
  });

  it("requests a withdrawal, shows the countdown, cancels, and withdraws after thawing", async () => {
    const chain = network.localChain!;
    const usdc = MockUSDC__factory.connect(chain.tokenAddress, chain.provider);
    const section = page.getByTestId("withdrawal");
    await section.getByTestId("withdraw-amount").fill("1");
    await section.getByRole("button", { name: "Request withdrawal" }).click();
    await section.getByTestId("countdown").waitFor({ timeout: 20_000 });
    expect(await section.getByTestId("countdown").innerText()).to.match(/^(59 min|1 h 00 min)/);
    await section.screenshot({ path: path.join(SCREENSHOTS, "account-withdrawal.png") });

    await section.getByRole("button", { name: "Cancel withdrawal" }).click();
    await section.getByTestId("thaw-status").waitFor({ state: "detached", timeout: 20_000 });

    await section.getByTestId("withdraw-amount").fill("1");
    await section.getByRole("button", { name: "Request withdrawal" }).click();
    await section.getByTestId("countdown").waitFor({ timeout: 20_000 });
    // Withdrawing early is refused by the button; the chain's clock then moves past the thawing period.
    expect(await section.getByRole("button", { name: "Withdraw to my wallet" }).isDisabled()).to.equal(true);
    await chain.provider.send("evm_increaseTime", [3601]);
    await chain.provider.send("evm_mine", []);
    await section.getByRole("button", { name: "Refresh" }).click();
    await section.getByText("Ready to withdraw.").waitFor();
    const before = await usdc.balanceOf(user.address);
    await section.getByRole("button", { name: "Withdraw to my wallet" }).click();
    await section.getByTestId("thaw-status").waitFor({ state: "detached", timeout: 20_000 });
    expect((await usdc.balanceOf(user.address)) - before).to.equal(1_000_000n);
  });
});

async function expect_text(locator: ReturnType<Page["locator"]>, text: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last = "";
  while (Date.now() < deadline) {
    last = (await locator.innerText()).trim();
    if (last === text) return;
    await new Promise((wake) => setTimeout(wake, 200));
  }
  expect(last).to.equal(text);
}
