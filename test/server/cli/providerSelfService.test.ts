import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import { parseProviderVouchers } from "../../../server/providers-selfservice/voucherFile";
import { buildDueVouchers } from "../../../server/workers/settlement/buildVouchers";
import { connectSettlementChain } from "../../../server/workers/settlement/settlementChain";
import { emptyReport } from "../../../server/workers/settlement/settlementContext";
import { resolveSettlementSettings } from "../../../server/workers/settlement/settlementSettings";
import {
  EAGER_SETTINGS,
  providerShareOf,
  startSettlementHarness,
  USDC,
  type SettlementHarness,
} from "../workers/settlementHarness";
import { runJson, runShareai } from "./support/runInProcess";

/**
 * A provider collects with the gateway stopped: vouchers signed by the settlement worker's code,
 * no worker running, exported from the database, settled with the provider's own key, claimed;
 * the treasury claims its fees the same way. Plus `shareai dev fund` on the local chain and its
 * refusal elsewhere.
 */
describe("shareai provider / treasury / dev fund (hardhat node, Postgres, gateway stopped)", function () {
  this.timeout(60_000);
  let harness: SettlementHarness;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    harness = await startSettlementHarness();
    dir = mkdtempSync(path.join(os.tmpdir(), "shareai-provider-"));
    env = {
      DATABASE_URL: (harness.db.dataSource.options as { url: string }).url,
      RPC_URL: harness.node.url,
      ESCROW_ADDRESS: harness.escrowAddress,
      LOG_LEVEL: "silent",
    };
  });

  after(async () => {
    await harness?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Step (a) of the worker alone: sign what is due, submit nothing. */
  async function signDueVouchers(): Promise<void> {
    const chain = await connectSettlementChain({
      provider: harness.provider,
      escrowAddress: harness.escrowAddress,
      signer: harness.signer,
      submitter: harness.submitter,
    });
    const report = emptyReport(new Date(), true);
    await buildDueVouchers(
      {
        vouchers: harness.db.vouchers,
        transactions: harness.db.settlementTransactions,
        chain,
        settings: resolveSettlementSettings(EAGER_SETTINGS),
        logger: pino({ level: "silent" }),
        clock: () => new Date(),
      },
      report,
    );
    expect(report.warnings).to.deep.equal([]);
  }

  it("exports the provider's vouchers, settles them with its key (skipping what is settled), claims; the treasury claims", async () => {
    const providerWallet = harness.node.account(12, harness.provider);
    const provider = providerWallet.address.toLowerCase();
    const [alice, bob, carol] = [
      await harness.payer(50n * USDC),
      await harness.payer(50n * USDC),
      await harness.payer(50n * USDC),
    ];
    // Carol's and part of Alice's usage are settled by the worker while the gateway still runs.
    await harness.meter(carol, provider, [30_000_000n]);
    await harness.meter(alice, provider, [10_000_000n]);
    const worker = await harness.startWorker();
    await worker.tick();
    await harness.stopWorkers();
    expect(await harness.escrow.settledAmount(carol.account, provider)).to.equal(30n);

    // More usage; the worker signs it, then the gateway stops before anything is submitted.
    await harness.meter(alice, provider, [45_000_000n, 5_000_000n]); // alice: 60 in total
    await harness.meter(bob, provider, [72_500_000n]); // bob: 72 (0.5 carried)
    await signDueVouchers();
    expect(await harness.escrow.settledAmount(alice.account, provider)).to.equal(10n);

    const file = path.join(dir, "vouchers.json");
    const exported = await runShareai(env, "provider", "vouchers", "--address", provider, "--out", file);
    expect(exported.code, exported.stderr).to.equal(0);
    expect(exported.stdout).to.include("Wrote 3 signed vouchers");
    const vouchers = parseProviderVouchers(JSON.parse(readFileSync(file, "utf8")));
    expect(vouchers.vouchers.map((v) => [v.voucher.payer, v.voucher.cumulativeAmount, v.state])).to.have.deep.members([
      [alice.account, 60n, "pending"],
      [bob.account, 72n, "pending"],
      [carol.account, 30n, "final"],
    ]);
    // The database is not needed from here on: the file and the chain are enough.
    const chainOnly = { RPC_URL: harness.node.url, ESCROW_ADDRESS: harness.escrowAddress, PROVIDER_KEY: providerWallet.privateKey };

    const refused = await runShareai(chainOnly, "provider", "settle", "--vouchers", file, "--key-env", providerWallet.privateKey);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.match(/--key-env takes the NAME of an environment variable/);
    expect(refused.stderr + refused.stdout).to.not.include(providerWallet.privateKey.slice(2));

    const earningsBefore = await harness.escrow.earningsOf(provider);
    const settled = await runShareai(chainOnly, "provider", "settle", "--vouchers", file, "--key-env", "PROVIDER_KEY");
    expect(settled.code, settled.stderr + settled.stdout).to.equal(0);
    expect(settled.stdout).to.match(/2 paid, 1 already settled/);
    expect(settled.stdout).to.not.include(providerWallet.privateKey.slice(2));
    expect(await harness.escrow.settledAmount(alice.account, provider)).to.equal(60n);
    expect(await harness.escrow.settledAmount(bob.account, provider)).to.equal(72n);
    expect(await harness.escrow.earningsOf(provider)).to.equal(earningsBefore + providerShareOf(50n) + providerShareOf(72n));

    const again = await runJson(chainOnly, "provider", "settle", "--vouchers", file);
    expect(again.map((o: { status: string }) => o.status)).to.deep.equal(["already_settled", "already_settled", "already_settled"]);

    const owed = await harness.escrow.earningsOf(provider);
    const balanceBefore = await harness.usdc.balanceOf(provider);
    const claim = await runJson(chainOnly, "provider", "claim", "--key-env", "PROVIDER_KEY");
    expect(BigInt(claim.amount)).to.equal(owed);
    expect(await harness.usdc.balanceOf(provider)).to.equal(balanceBefore + owed);
    expect(await harness.escrow.earningsOf(provider)).to.equal(0n);
    const nothing = await runShareai(chainOnly, "provider", "claim");
    expect(nothing.code).to.equal(0);
    expect(nothing.stdout).to.match(/Nothing to claim/);

    const treasury = harness.treasury.address;
    const fees = await harness.escrow.earningsOf(treasury);
    expect(fees).to.equal(3n + 1n + 5n + 7n);
    const elsewhere = harness.node.account(13).address;
    const treasuryClaim = await runShareai(
      { ...chainOnly, TREASURY_KEY: harness.treasury.privateKey },
      "treasury",
      "claim",
      "--to",
      elsewhere,
    );
    expect(treasuryClaim.code, treasuryClaim.stderr).to.equal(0);
    expect(treasuryClaim.stdout).to.match(new RegExp(`Claimed .* to ${elsewhere.toLowerCase()}`));
    expect(await harness.usdc.balanceOf(elsewhere)).to.equal(fees);
  });

  it("dev fund mints and deposits on the local chain, and is refused on any other", async () => {
    const account = harness.node.account(14).address;
    const funded = await runShareai(env, "dev", "fund", "--account", account, "--usdc", "2.5");
    expect(funded.code, funded.stderr).to.equal(0);
    expect(funded.stdout).to.include("Deposited 2.5 USDC (2500000 base units)");
    const [available] = await harness.escrow.balanceOf(account);
    expect(available).to.equal(2_500_000n);

    // A JSON-RPC endpoint of another chain (Base, 8453): refused before anything is sent.
    const base = await fakeChain(8453);
    try {
      const refused = await runShareai({ ...env, RPC_URL: base.url }, "dev", "fund", "--account", account, "--usdc", "1");
      expect(refused.code).to.equal(1);
      expect(refused.stderr).to.match(/refused: chain 8453 is not the local Hardhat chain \(31337\)/);
      expect(base.methods.filter((m) => m !== "eth_chainId")).to.deep.equal([]);
    } finally {
      await new Promise((done) => base.server.close(done));
    }
  });
});

/** An HTTP JSON-RPC endpoint that answers only eth_chainId (and records what it was asked). */
async function fakeChain(chainId: number): Promise<{ url: string; server: Server; methods: string[] }> {
  const methods: string[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const parsed = JSON.parse(body);
      const answer = (call: { id: number; method: string }) => {
        methods.push(call.method);
        return call.method === "eth_chainId"
          ? { jsonrpc: "2.0", id: call.id, result: `0x${chainId.toString(16)}` }
          : { jsonrpc: "2.0", id: call.id, error: { code: -32601, message: "not here" } };
      };
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(Array.isArray(parsed) ? parsed.map(answer) : answer(parsed)));
    });
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, server, methods };
}
