import path from "node:path";
import { expect } from "chai";
import { Interface, TypedDataEncoder, ZeroHash, getAddress, id, type ContractRunner, type TransactionRequest } from "ethers";
import type { Page } from "playwright-core";
import { FIRST_FREE_LOCAL_ACCOUNT, LOCAL_ROLES } from "../../server/main/chain/localAccounts";
import type { LocalChain } from "../../server/main/chain/localChain";
import { FeeOnTransferToken__factory, MockUSDC__factory, ReentrantToken__factory, UsageEscrow__factory } from "../../typechain-types";
import { detectPermit, PERMIT_TYPEHASH } from "../../web/src/permit";
import {
  SCREENSHOTS,
  setWalletUnsupportedMethods,
  switchWalletAccount,
  signInWithWallet,
  startBrowserSession,
  waitForAttribute,
  type BrowserSession,
} from "./support/browserSupport";

/**
 * The Account page's two ways to deposit, in headless Chromium against the local network: with a
 * permit (one signature) where the token supports it, approve + deposit otherwise or when chosen,
 * skipping the approval when the allowance already covers the amount, and falling back to it when
 * the wallet cannot sign typed data. Before that, the permit detection itself against the local
 * chain's tokens and against fake tokens.
 */
describe("depositing from the Account page, with a permit or with approve + deposit", function () {
  this.timeout(120_000);

  let session: BrowserSession;
  let chain: LocalChain;
  let page: Page;
  let user: string;

  before(async () => {
    session = await startBrowserSession("deposit-methods", { walletAccount: FIRST_FREE_LOCAL_ACCOUNT + 2, usdcBase: 50_000_000n });
    chain = session.network.localChain!;
    page = session.page;
    user = session.wallet.address;
  });

  after(async () => {
    await session?.stop();
  });

  describe("detectPermit", () => {
    it("finds USDC's permit and its domain (\"USD Coin\", version \"2\") on the escrow's token", async () => {
      const support = await detectPermit(chain.provider, chain.tokenAddress, user, chain.chainId);
      expect(support.supported).to.equal(true);
      if (!support.supported) return;
      expect(support.domain).to.deep.equal({ name: "USD Coin", version: "2", chainId: chain.chainId, verifyingContract: getAddress(chain.tokenAddress) });
      expect(support.nonce).to.equal(await MockUSDC__factory.connect(chain.tokenAddress, chain.provider).nonces(user));
      expect(PERMIT_TYPEHASH).to.equal(await MockUSDC__factory.connect(chain.tokenAddress, chain.provider).PERMIT_TYPEHASH());
    });

    it("finds none on tokens without permit, nor on an address without code", async () => {
      const deployer = chain.account(LOCAL_ROLES.deployer);
      const feeToken = await (await new FeeOnTransferToken__factory(deployer).deploy(100)).waitForDeployment();
      const reentrant = await (await new ReentrantToken__factory(deployer).deploy()).waitForDeployment();
      for (const token of [await feeToken.getAddress(), await reentrant.getAddress(), chain.account(FIRST_FREE_LOCAL_ACCOUNT + 3).address]) {
        expect(await detectPermit(chain.provider, token, user, chain.chainId), token).to.deep.equal({ supported: false, reason: "no_permit" });
      }
    });

    it("takes an OpenZeppelin ERC20Permit's domain from eip712Domain() (version \"1\", no version())", async () => {
      const domain = { name: "Token", version: "1", chainId: 31337n, verifyingContract: FAKE_TOKEN };
      const token = fakeToken({
        nonces: [7n],
        DOMAIN_SEPARATOR: [TypedDataEncoder.hashDomain(domain)],
        eip712Domain: ["0x0f", "Token", "1", 31337n, FAKE_TOKEN, ZeroHash, []],
        name: ["Token"],
      });
      expect(await detectPermit(token, FAKE_TOKEN, user, 31337n)).to.deep.equal({ supported: true, domain, nonce: 7n });
    });

    it("finds the version by trying \"1\" and \"2\" when the token announces neither", async () => {
      const domain = { name: "Old Token", version: "2", chainId: 31337n, verifyingContract: FAKE_TOKEN };
      const token = fakeToken({ nonces: [0n], DOMAIN_SEPARATOR: [TypedDataEncoder.hashDomain(domain)], name: ["Old Token"] });
      expect(await detectPermit(token, FAKE_TOKEN, user, 31337n)).to.deep.equal({ supported: true, domain, nonce: 0n });
    });

    it("refuses a domain separator it cannot reproduce, and a permit that is not EIP-2612's", async () => {
      const unknownDomain = fakeToken({ nonces: [0n], DOMAIN_SEPARATOR: [id("some other domain")], name: ["Token"], version: ["1"] });
      expect(await detectPermit(unknownDomain, FAKE_TOKEN, user, 31337n)).to.deep.equal({ supported: false, reason: "unknown_domain" });
      // DAI's permit: Permit(address holder,address spender,uint256 nonce,uint256 expiry,bool allowed).
      const daiLike = fakeToken({
        nonces: [0n],
        DOMAIN_SEPARATOR: [TypedDataEncoder.hashDomain({ name: "Dai Stablecoin", version: "1", chainId: 31337n, verifyingContract: FAKE_TOKEN })],
        PERMIT_TYPEHASH: [id("Permit(address holder,address spender,uint256 nonce,uint256 expiry,bool allowed)")],
        name: ["Dai Stablecoin"],
        version: ["1"],
      });
      expect(await detectPermit(daiLike, FAKE_TOKEN, user, 31337n)).to.deep.equal({ supported: false, reason: "other_permit_type" });
    });

    it("throws what is not a missing function (the chain unreachable) instead of calling it unsupported", async () => {
      const broken: ContractRunner = {
        provider: null,
        call: async () => {
          throw Object.assign(new Error("connection refused"), { code: "NETWORK_ERROR" });
        },
      };
      const failure = await detectPermit(broken, FAKE_TOKEN, user, 31337n).then(
        () => null,
        (error: unknown) => error,
      );
      expect((failure as { code?: string })?.code).to.equal("NETWORK_ERROR");
    });
  });

  describe("in the browser", () => {
    const escrowAvailable = async () => (await UsageEscrow__factory.connect(chain.escrowAddress, chain.provider).balanceOf(user)).available;
    const sentTransactions = () => chain.provider.getTransactionCount(user, "latest");
    const availableTile = () => page.getByTestId("tile-available").locator(".money");
    const baseUnits = (base: bigint) => `${base} base units (1 USDC = 1,000,000)`;

    it("signs in and offers permit by default, the escrow's token supporting it", async () => {
      await signInWithWallet(page, `${session.origin}/account`);
      const methods = page.getByTestId("deposit-method");
      await methods.getByRole("radio", { name: "Permit" }).waitFor();
      expect(await methods.getByRole("radio", { name: "Permit" }).getAttribute("aria-checked")).to.equal("true");
      expect(await methods.getByRole("radio", { name: "Approve + deposit" }).getAttribute("aria-checked")).to.equal("false");
      expect(await page.getByTestId("permit-unsupported").count()).to.equal(0);
    });

    it("deposits with approve + deposit: approves exactly the amount, then deposits it; the escrow balance rises by exactly that", async () => {
      const usdc = MockUSDC__factory.connect(chain.tokenAddress, chain.provider);
      const [before, sentBefore, fromBlock] = await Promise.all([escrowAvailable(), sentTransactions(), chain.provider.getBlockNumber()]);
      expect(await usdc.allowance(user, chain.escrowAddress)).to.equal(0n);

      await page.getByRole("radio", { name: "Approve + deposit" }).click();
      await page.getByTestId("deposit-amount").fill("3.25");
      await page.getByRole("button", { name: "Approve and deposit" }).click();
      await page.getByTestId("deposit-progress").waitFor();
      await page.getByText("Deposit confirmed and counted in your balance.").waitFor({ timeout: 30_000 });

      expect((await escrowAvailable()) - before).to.equal(3_250_000n);
      expect((await sentTransactions()) - sentBefore, "an approve and a deposit").to.equal(2);
      const approvals = await usdc.queryFilter(usdc.filters.Approval(user, chain.escrowAddress), fromBlock + 1);
      expect(approvals.map((log) => log.args.value)).to.deep.equal([3_250_000n]);
      expect(await usdc.allowance(user, chain.escrowAddress), "the deposit used the whole approval").to.equal(0n);
      expect(await page.getByTestId("deposit-progress").getAttribute("data-method")).to.equal("approve");
      expect(await page.getByTestId("progress-approve").getAttribute("data-state")).to.equal("confirmed");
      expect(await page.getByTestId("progress-deposit").getAttribute("data-state")).to.equal("confirmed");

      await waitForAttribute(availableTile(), "title", baseUnits(before + 3_250_000n));
      expect(await availableTile().innerText()).to.equal("3.25 USDC");
      // The Withdraw card reads the chain again after a deposit, too.
      await waitForAttribute(
        page.getByTestId("withdrawal-onchain-available").locator(".money"),
        "title",
        baseUnits(await escrowAvailable()),
      );
      await page.getByTestId("deposit").screenshot({ path: path.join(SCREENSHOTS, "account-deposit-approve.png") });
    });

    it("sends no approve when the allowance already covers the amount: one transaction, the deposit", async () => {
      const usdc = MockUSDC__factory.connect(chain.tokenAddress, session.wallet);
      await (await usdc.approve(chain.escrowAddress, 2_000_000n)).wait();
      const [before, sentBefore] = await Promise.all([escrowAvailable(), sentTransactions()]);

      expect(await page.getByRole("radio", { name: "Approve + deposit" }).getAttribute("aria-checked")).to.equal("true");
      await page.getByTestId("deposit-amount").fill("2");
      await page.getByRole("button", { name: "Approve and deposit" }).click();
      await page.getByText("Deposit confirmed and counted in your balance.").waitFor({ timeout: 30_000 });

      expect((await escrowAvailable()) - before).to.equal(2_000_000n);
      expect((await sentTransactions()) - sentBefore, "the deposit alone").to.equal(1);
      expect(await page.getByTestId("progress-approve").getAttribute("data-state")).to.equal("skipped");
      expect(await page.getByTestId("progress-approve").innerText()).to.include("not needed");
      await waitForAttribute(availableTile(), "title", baseUnits(before + 2_000_000n));
    });

    it("falls back to approve + deposit when the wallet cannot sign typed data, and says why", async () => {
      await setWalletUnsupportedMethods(page, ["eth_signTypedData_v4"]);
      const [before, sentBefore] = await Promise.all([escrowAvailable(), sentTransactions()]);

      await page.getByRole("radio", { name: "Permit" }).click();
      await page.getByTestId("deposit-amount").fill("1");
      await page.getByRole("button", { name: "Deposit with permit" }).click();
      await page.getByText("Deposit confirmed and counted in your balance.").waitFor({ timeout: 30_000 });

      expect(await page.getByTestId("deposit-notice").innerText()).to.include("Your wallet cannot sign a permit");
      expect(await page.getByTestId("deposit-progress").getAttribute("data-method")).to.equal("approve");
      expect((await escrowAvailable()) - before).to.equal(1_000_000n);
      expect((await sentTransactions()) - sentBefore, "an approve and a deposit").to.equal(2);
      await waitForAttribute(availableTile(), "title", baseUnits(before + 1_000_000n));
      await setWalletUnsupportedMethods(page, []);
    });

    it("deposits with a permit when chosen again: one transaction, no approve", async () => {
      const [before, sentBefore] = await Promise.all([escrowAvailable(), sentTransactions()]);
      await page.getByRole("radio", { name: "Permit" }).click();
      await page.getByTestId("deposit-amount").fill("0.5");
      await page.getByRole("button", { name: "Deposit with permit" }).click();
      await page.getByText("Deposit confirmed and counted in your balance.").waitFor({ timeout: 30_000 });

      expect(await page.getByTestId("deposit-progress").getAttribute("data-method")).to.equal("permit");
      expect((await escrowAvailable()) - before).to.equal(500_000n);
      expect((await sentTransactions()) - sentBefore, "depositWithPermit alone").to.equal(1);
      await waitForAttribute(availableTile(), "title", baseUnits(before + 500_000n));
    });

    it("refuses more than the wallet holds in plain words, before anything is signed or sent", async () => {
      const held = await MockUSDC__factory.connect(chain.tokenAddress, chain.provider).balanceOf(user);
      expect(held).to.equal(50_000_000n - 6_750_000n);
      const sentBefore = await sentTransactions();
      await page.getByRole("radio", { name: "Approve + deposit" }).click();
      await page.getByTestId("deposit-amount").fill("100");
      await page.getByRole("button", { name: "Approve and deposit" }).click();
      await page.getByText("Your wallet holds 43.25 USDC, less than the 100 USDC to deposit. Nothing was signed or sent.").waitFor();
      expect(await sentTransactions()).to.equal(sentBefore);
      await page.screenshot({ path: path.join(SCREENSHOTS, "account-deposit-methods.png"), fullPage: true });
    });

    it("refuses to deposit when the wallet has switched to another account, saying which, before anything is signed or sent", async () => {
      const other = "0x00000000000000000000000000000000000000b0";
      const sentBefore = await sentTransactions();
      await switchWalletAccount(page, other);
      try {
        await page.getByRole("radio", { name: "Approve + deposit" }).click();
        await page.getByTestId("deposit-amount").fill("1");
        await page.getByRole("button", { name: "Approve and deposit" }).click();
        await page
          .getByText(`Your wallet is now on account ${other}, but you are signed in as ${user.toLowerCase()}.`, { exact: false })
          .first()
          .waitFor();
        expect(await sentTransactions(), "nothing sent from the other account").to.equal(sentBefore);
      } finally {
        await switchWalletAccount(page, null);
      }
    });
  });
});

const FAKE_TOKEN = getAddress("0x00000000000000000000000000000000000000aa");

const FAKE_TOKEN_ABI = new Interface([
  "function nonces(address owner) view returns (uint256)",
  "function DOMAIN_SEPARATOR() view returns (bytes32)",
  "function PERMIT_TYPEHASH() view returns (bytes32)",
  "function eip712Domain() view returns (bytes1 fields, string name, string version, uint256 chainId, address verifyingContract, bytes32 salt, uint256[] extensions)",
  "function name() view returns (string)",
  "function version() view returns (string)",
]);

/** A token as `eth_call` sees it: the functions in `answers` return those values, any other reverts without data. */
function fakeToken(answers: Record<string, unknown[]>): ContractRunner {
  return {
    provider: null,
    call: async (tx: TransactionRequest) => {
      const fragment = FAKE_TOKEN_ABI.getFunction(String(tx.data).slice(0, 10));
      const values = fragment && answers[fragment.name];
      if (!values) {
        throw Object.assign(new Error("execution reverted"), { code: "CALL_EXCEPTION", data: null });
      }
      return FAKE_TOKEN_ABI.encodeFunctionResult(fragment, values);
    },
  };
}
