import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import type { HDNodeWallet } from "ethers";
import OpenAI from "openai";
import pino from "pino";
import { loadConfig } from "../../server/config";
import { DEMO_MODEL } from "../../server/demo/demoModel";
import { DEMO_PROVIDER } from "../../server/demo/demoProvider";
import { FIRST_FREE_LOCAL_ACCOUNT, LOCAL_ROLES } from "../../server/main/chain/localAccounts";
import { depositWithPermit } from "../../server/main/chain/permitDeposit";
import { startLocalNetwork, type LocalNetwork } from "../../server/main/localNetwork";
import { MockUSDC__factory, UsageEscrow__factory, type MockUSDC, type UsageEscrow } from "../../typechain-types";
import { connectEscrowReader } from "../../server/chain/escrowReader";
import { parseReceiptBundle } from "../../server/settlement/receiptBundle";
import { verifyReceipt } from "../../server/settlement/verifyReceipt";
import { runJson, runShareai } from "../server/cli/support/runInProcess";
import { createTestDatabase } from "../support/database";
import { startTestLocalNetwork, type TestLocalNetwork } from "../support/testLocalNetwork";

/**
 * The whole network, in this process: a local Hardhat chain with MockUSDC and the escrow, Postgres,
 * the gateway with its /api, the chain watcher and the settlement worker, and the demo provider.
 * A new user deposits with a permit, gets a key, calls the gateway with the official SDK; the
 * worker settles; the provider and the treasury claim; every balance is checked to the base unit.
 */
const USDC = 1_000_000n;
const MICROS_PER_BASE = 1_000_000n;
const FEE_BPS = 1000n;
const DEPOSIT = 5n * USDC;

describe("the local network, end to end", function () {
  this.timeout(90_000);

  let local: TestLocalNetwork;
  let network: LocalNetwork;
  let usdc: MockUSDC;
  let escrow: UsageEscrow;
  let user: HDNodeWallet;
  let apiKey: string;
  let env: Record<string, string>;
  const requestIds: string[] = [];
  let meteredMicros = 0n;

  before(async () => {
    local = await startTestLocalNetwork("e2e");
    ({ network, env } = local);
    const chain = network.localChain!;
    usdc = MockUSDC__factory.connect(chain.tokenAddress, chain.account(LOCAL_ROLES.deployer));
    escrow = UsageEscrow__factory.connect(chain.escrowAddress, chain.provider);
    user = chain.account(FIRST_FREE_LOCAL_ACCOUNT);
  });

  after(async () => {
    await local?.stop();
  });

  it("runs the chain, the escrow, the workers and a funded demo", async () => {
    const chain = network.chain!;
    expect(chain.mode).to.equal("local");
    expect(chain.chainId).to.equal(31337n);
    expect(network.demo!.funding).to.equal("chain");
    expect(network.demo!.balanceBase).to.equal(10n * USDC);
    const [available] = await escrow.balanceOf(network.demo!.account);
    expect(available).to.equal(10n * USDC);
    // The demo key works.
    const reply = await new OpenAI({ baseURL: network.url, apiKey: network.demo!.apiKey, maxRetries: 0 }).chat.completions.create(
      { model: DEMO_MODEL.id, messages: [{ role: "user", content: "ping" }] },
    );
    expect(reply.choices[0].message.content).to.equal("You said: ping");
  });

  it("a new user deposits with one permit signature; the watcher mirrors it", async () => {
    await (await usdc.mint(user.address, DEPOSIT)).wait();
    const receipt = await depositWithPermit(user, await usdc.getAddress(), await escrow.getAddress(), DEPOSIT);
    expect(await usdc.allowance(user.address, await escrow.getAddress())).to.equal(0n);
    await network.gateway.chain!.workers.waitForMirror(receipt.blockNumber);
    const balance = await network.database.accounts.getBalance(user.address.toLowerCase());
    expect(balance?.onchainAvailableBase).to.equal(DEPOSIT);
  });

  it("gets a key with the CLI and runs stream and non-stream requests with the official SDK", async () => {
    const created = await runJson(env, "keys", "create", "--account", user.address, "--name", "e2e");
    apiKey = created.secret ?? created.apiKey ?? created.key?.secret;
    expect(apiKey, JSON.stringify(created)).to.match(/^sk-shareai-/);

    const client = new OpenAI({ baseURL: network.url, apiKey, maxRetries: 0 });
    const cost = (usage: OpenAI.CompletionUsage) =>
      BigInt(usage.prompt_tokens) * DEMO_MODEL.promptRatePerMTok +
      BigInt(usage.completion_tokens) * DEMO_MODEL.completionRatePerMTok;
    for (let i = 0; i < 3; i++) {
      const completion = await client.chat.completions.create({
        model: DEMO_MODEL.id,
        messages: [{ role: "user", content: `non-stream request number ${i} with a few more words` }],
      });
      expect(completion.choices[0].message.content).to.equal(`You said: non-stream request number ${i} with a few more words`);
      requestIds.push(completion.id);
      meteredMicros += cost(completion.usage!);
    }
    for (let i = 0; i < 2; i++) {
      const stream = await client.chat.completions.create({
        model: DEMO_MODEL.id,
        messages: [{ role: "user", content: `stream ${i}: ${"word ".repeat(40 + i)}` }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = "";
      let usage: OpenAI.CompletionUsage | undefined;
      let id = "";
      for await (const chunk of stream) {
        id = chunk.id;
        text += chunk.choices[0]?.delta?.content ?? "";
        usage = chunk.usage ?? usage;
      }
      expect(text.startsWith(`You said: stream ${i}:`)).to.equal(true);
      requestIds.push(id);
      meteredMicros += cost(usage!);
    }
    const balance = await network.database.accounts.getBalance(user.address.toLowerCase());
    expect(balance?.unsettledMicros).to.equal(meteredMicros);
  });

  it("the worker settles, the provider and the treasury claim, and every balance is exact to the base unit", async () => {
    const payer = user.address;
    const provider = DEMO_PROVIDER.payoutAddress;
    const expectedPaid = meteredMicros / MICROS_PER_BASE; // floor, the remainder carried
    expect(expectedPaid > 0n, "the requests cost at least one base unit").to.equal(true);

    const workers = network.gateway.chain!.workers;
    const deadline = Date.now() + 40_000;
    while ((await escrow.settledAmount(payer, provider)) < expectedPaid) {
      expect(Date.now(), "settled within 40 s").to.be.below(deadline);
      await workers.worker.tick();
      await new Promise((wake) => setTimeout(wake, 300));
    }
    expect(await escrow.settledAmount(payer, provider)).to.equal(expectedPaid);

    // Every Settled of the pair, each fee rounded down on its own payment.
    const events = await escrow.queryFilter(escrow.filters.Settled(payer, provider));
    const paid = events.reduce((sum, event) => sum + event.args.paid, 0n);
    const fees = events.reduce((sum, event) => sum + event.args.fee, 0n);
    for (const event of events) {
      expect(event.args.fee).to.equal((event.args.paid * FEE_BPS) / 10_000n);
      expect(event.args.providerShare).to.equal(event.args.paid - event.args.fee);
    }
    expect(paid).to.equal(expectedPaid);

    // The user's deposit went down by exactly what was paid.
    const [available, thawing] = await escrow.balanceOf(payer);
    expect(available + thawing).to.equal(DEPOSIT - paid);

    // Claims: the demo provider (Hardhat #2) and the treasury (Hardhat #3). Only this user was
    // settled for the demo provider beyond the demo account's own ping, so compare with earnings.
    const chain = network.localChain!;
    const providerWallet = chain.account(LOCAL_ROLES.demoProvider);
    const treasuryWallet = chain.account(LOCAL_ROLES.treasury);
    const allSettled = await escrow.queryFilter(escrow.filters.Settled());
    const providerEarned = allSettled
      .filter((event) => event.args.provider.toLowerCase() === provider)
      .reduce((sum, event) => sum + event.args.providerShare, 0n);
    const treasuryEarned = allSettled.reduce((sum, event) => sum + event.args.fee, 0n);
    const userProviderShare = paid - fees;
    expect(await escrow.earningsOf(provider)).to.equal(providerEarned);
    expect(await escrow.earningsOf(treasuryWallet.address)).to.equal(treasuryEarned);

    const before = { provider: await usdc.balanceOf(provider), treasury: await usdc.balanceOf(treasuryWallet.address) };
    await (await escrow.connect(providerWallet).claim(providerWallet.address)).wait();
    await (await escrow.connect(treasuryWallet).claim(treasuryWallet.address)).wait();
    const providerGain = (await usdc.balanceOf(provider)) - before.provider;
    const treasuryGain = (await usdc.balanceOf(treasuryWallet.address)) - before.treasury;
    expect(providerGain).to.equal(providerEarned);
    expect(treasuryGain).to.equal(treasuryEarned);
    // This user's part of it: paid − fee to the provider, the fee to the treasury.
    const demoPaid = allSettled
      .filter((event) => event.args.payer.toLowerCase() !== payer.toLowerCase())
      .reduce((sum, event) => sum + event.args.paid, 0n);
    const demoFees = allSettled
      .filter((event) => event.args.payer.toLowerCase() !== payer.toLowerCase())
      .reduce((sum, event) => sum + event.args.fee, 0n);
    expect(providerGain - (demoPaid - demoFees)).to.equal(userProviderShare);
    expect(treasuryGain - demoFees).to.equal(fees);
    expect(await escrow.earningsOf(provider)).to.equal(0n);

    // The mirror agrees once the watcher has applied the claims, and the carry stays unsettled.
    const head = await chain.provider.getBlockNumber();
    await workers.waitForMirror(head);
    const mirrored = await network.database.accounts.getBalance(payer.toLowerCase());
    expect(mirrored?.onchainAvailableBase).to.equal(available);
    expect(mirrored?.unsettledMicros).to.equal(meteredMicros - paid * MICROS_PER_BASE);
    expect(await network.database.chain.earnings(provider)).to.deep.include({ unclaimedBase: 0n });
  });

  // ------------------------------------------------------------------------------------------
  // Receipts and reconcile: the settlement module's receipt route (GET /api/usage/{id}/receipt
  // checked with verifyReceipt against the chain) and `shareai reconcile` plug in here.
  // ------------------------------------------------------------------------------------------
  describe("receipts and reconcile", () => {
    it("every request's receipt, fetched with the key that made it, verifies against the chain", async () => {
      const rows: { request_id: string }[] = await network.database.dataSource.query(
        "SELECT request_id FROM usage_records WHERE account = $1 ORDER BY created_at",
        [user.address.toLowerCase()],
      );
      expect(rows).to.have.length(5);
      const reader = await connectEscrowReader(network.localChain!.provider, network.localChain!.escrowAddress);
      const origin = network.url.replace(/\/v1$/, "");
      for (const { request_id: requestId } of rows) {
        const response = await fetch(`${origin}/api/usage/${encodeURIComponent(requestId)}/receipt`, {
          headers: { authorization: `Bearer ${apiKey}` },
        });
        const body = await response.json();
        expect(response.status, JSON.stringify(body)).to.equal(200);
        const bundle = parseReceiptBundle(body);
        expect(bundle.receipt.payer.toLowerCase()).to.equal(user.address.toLowerCase());
        const verdict = await verifyReceipt(bundle, reader);
        expect(verdict, JSON.stringify(verdict, (_, v) => (typeof v === "bigint" ? v.toString() : v))).to.deep.include({
          isValid: true,
        });
      }
      // Another account's key cannot read it.
      const other = await fetch(`${origin}/api/usage/${encodeURIComponent(rows[0].request_id)}/receipt`, {
        headers: { authorization: `Bearer ${network.demo!.apiKey}` },
      });
      expect(other.status).to.equal(404);
    });

    it("shareai reconcile passes on the whole database", async () => {
      const run = await runShareai(env, "reconcile");
      expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    });
  });
});

describe("the local network, restarted on the same database", function () {
  this.timeout(90_000);

  it("starts a new chain, rolls the old mirror back and settles earlier usage again on it, exactly", async () => {
    const testDatabase = await createTestDatabase();
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "shareai-e2e-restart-"));
    const env = {
      PORT: "0",
      LOG_LEVEL: "silent",
      DATABASE_URL: testDatabase.url,
      PG_DATA_DIR: path.join(dataDir, "postgres"),
      LOCAL_CHAIN_PORT: "0",
      HEALTH_CHECK_INTERVAL_MS: "600000",
      SETTLEMENT_INTERVAL_MS: "0",
      SETTLEMENT_THRESHOLD_BASE: "1",
      SETTLEMENT_POLL_MS: "600000",
      CHAIN_POLL_INTERVAL_MS: "200",
    };
    const errors: string[] = [];
    const logger = pino({ level: "error" }, { write: (line: string) => void errors.push(line) });
    const start = () => startLocalNetwork(loadConfig(env), { logger, chain: "local", demoWordDelayMs: 0 });
    const ask = async (network: LocalNetwork) => {
      const client = new OpenAI({ baseURL: network.url, apiKey: network.demo!.apiKey, maxRetries: 0 });
      const reply = await client.chat.completions.create({
        model: DEMO_MODEL.id,
        messages: [{ role: "user", content: "a request long enough to cost more than one base unit ".repeat(20) }],
      });
      return BigInt(reply.usage!.prompt_tokens) * DEMO_MODEL.promptRatePerMTok +
        BigInt(reply.usage!.completion_tokens) * DEMO_MODEL.completionRatePerMTok;
    };
    const settle = async (network: LocalNetwork, expected: bigint) => {
      const escrow = UsageEscrow__factory.connect(network.localChain!.escrowAddress, network.localChain!.provider);
      const deadline = Date.now() + 30_000;
      while ((await escrow.settledAmount(network.demo!.account, DEMO_PROVIDER.payoutAddress)) < expected) {
        expect(Date.now(), "settled within 30 s").to.be.below(deadline);
        await network.gateway.chain!.workers.worker.tick();
        await new Promise((wake) => setTimeout(wake, 300));
      }
      expect(await escrow.settledAmount(network.demo!.account, DEMO_PROVIDER.payoutAddress)).to.equal(expected);
      await network.gateway.chain!.workers.waitForMirror(await network.localChain!.provider.getBlockNumber());
    };
    let network: LocalNetwork | undefined;
    try {
      network = await start();
      const first = await ask(network);
      await settle(network, first / MICROS_PER_BASE);
      await network.stop();

      network = await start();
      // Nothing of the old chain is left: the demo's new deposit is all there is, less what is owed again.
      expect(network.demo!.balanceBase).to.equal(10n * USDC);
      const second = await ask(network);
      const total = first + second;
      await settle(network, total / MICROS_PER_BASE);
      const balance = await network.database.accounts.getBalance(network.demo!.account);
      expect(balance?.onchainAvailableBase).to.equal(10n * USDC - total / MICROS_PER_BASE);
      expect(balance?.unsettledMicros).to.equal(total % MICROS_PER_BASE);
      expect(errors, errors.join("\n")).to.deep.equal([]);
    } finally {
      await network?.stop();
      await testDatabase.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
