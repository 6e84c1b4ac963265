import { expect } from "chai";
import OpenAI from "openai";
import pino from "pino";
import { DEMO_ACCOUNT, DEMO_BALANCE_BASE, DEMO_KEY_NAME } from "../../../server/demo/demoAccount";
import { DEMO_MODEL } from "../../../server/demo/demoModel";
import { DEMO_PROVIDER } from "../../../server/demo/demoProvider";
import { startLocalNetwork, type LocalNetwork } from "../../../server/main/localNetwork";
import { openDatabase, type Database } from "../../../server/persistence";
import { createTestDatabase, type TestDatabase } from "../../support/database";
import { testConfig } from "./support/testConfig";

const silent = pino({ level: "silent" });

describe("startLocalNetwork (shareai start)", () => {
  let testDatabase: TestDatabase;
  let admin: Database;
  const running: LocalNetwork[] = [];

  const startNetwork = async (options: { demo?: boolean } = {}) => {
    const network = await startLocalNetwork(testConfig(testDatabase.url), {
      logger: silent,
      demoWordDelayMs: 0,
      // The ledger-funded demo (no chain); the chain's is test/e2e/network.test.ts.
      chain: "none",
      ...options,
    });
    running.push(network);
    return network;
  };
  const ask = (network: LocalNetwork, apiKey: string) =>
    new OpenAI({ baseURL: network.url, apiKey, maxRetries: 0 }).chat.completions.create({
      model: DEMO_MODEL.id,
      messages: [{ role: "user", content: "ping" }],
    });

  beforeEach(async () => {
    testDatabase = await createTestDatabase();
    admin = await openDatabase({ databaseUrl: testDatabase.url });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((network) => network.stop()));
    await admin.close();
    await testDatabase.drop();
  });

  it("on a database with no provider, registers the demo and prints a funded key that works", async () => {
    const network = await startNetwork();
    expect(network.demoDecision).to.deep.equal({ run: true, reason: "no provider configured" });
    const demo = network.demo!;
    expect(demo).to.deep.include({ modelId: DEMO_MODEL.id, account: DEMO_ACCOUNT, balanceBase: DEMO_BALANCE_BASE });
    expect(demo.apiKey).to.match(/^sk-shareai-/);

    expect((await ask(network, demo.apiKey)).choices[0].message.content).to.equal("You said: ping");

    const [provider] = await admin.providers.list();
    expect(provider).to.deep.include({ payoutAddress: DEMO_PROVIDER.payoutAddress, name: DEMO_PROVIDER.name });
    expect(provider.upstreams.map((u) => u.baseUrl)).to.deep.equal([demo.upstreamBaseUrl]);
    expect(await admin.models.get(DEMO_MODEL.id)).to.deep.include({
      promptRatePerMTok: 250_000n,
      completionRatePerMTok: 1_000_000n,
      enabled: true,
    });
    const [key] = await admin.apiKeys.list(DEMO_ACCOUNT);
    expect(key).to.deep.include({ name: DEMO_KEY_NAME, allowedModels: [DEMO_MODEL.id] });
  });

  it("on a restart, re-points the demo at the new echo server; earlier keys keep working", async () => {
    const first = await startNetwork();
    const firstKey = first.demo!.apiKey;
    await first.stop();

    const second = await startNetwork();
    expect(second.demoDecision).to.deep.equal({ run: true, reason: "demo provider registered" });
    expect(second.demo!.apiKey).to.not.equal(firstKey);
    const [provider] = await admin.providers.list();
    expect(provider.upstreams.map((u) => u.baseUrl)).to.deep.equal([second.demo!.upstreamBaseUrl]);
    for (const apiKey of [firstKey, second.demo!.apiKey]) {
      expect((await ask(second, apiKey)).choices[0].message.content).to.equal("You said: ping");
    }
    expect(await admin.apiKeys.list(DEMO_ACCOUNT)).to.have.length(2);
  });

  it("tops the demo balance up but never down, and keeps rates an operator changed", async () => {
    await admin.accounts.setOnChainBalance(DEMO_ACCOUNT, 3n, 0n);
    await admin.models.upsert({ ...DEMO_MODEL, promptRatePerMTok: 1n });
    await (await startNetwork()).stop();
    expect((await admin.accounts.getBalance(DEMO_ACCOUNT))!.onchainAvailableBase).to.equal(DEMO_BALANCE_BASE);
    expect((await admin.models.get(DEMO_MODEL.id))!.promptRatePerMTok).to.equal(1n);

    await admin.accounts.setOnChainBalance(DEMO_ACCOUNT, 99_000_000n, 0n);
    await (await startNetwork()).stop();
    expect((await admin.accounts.getBalance(DEMO_ACCOUNT))!.onchainAvailableBase).to.equal(99_000_000n);
  });

  it("runs no demo with --no-demo, when real providers are configured, or when the demo model is disabled", async () => {
    const noDemo = await startNetwork({ demo: false });
    expect(noDemo.demo).to.equal(null);
    expect(noDemo.demoDecision).to.deep.equal({ run: false, reason: "--no-demo" });
    expect(await admin.providers.list()).to.deep.equal([]);
    await noDemo.stop();

    // A first run registers the demo; disabling its model turns it off for good.
    await (await startNetwork()).stop();
    await admin.models.setEnabled(DEMO_MODEL.id, false);
    const disabled = await startNetwork();
    expect(disabled.demoDecision).to.deep.equal({ run: false, reason: `the demo model ${DEMO_MODEL.id} is disabled` });
    await disabled.stop();
  });

  it("leaves a database with only real providers alone", async () => {
    await admin.models.upsert({ ...DEMO_MODEL, id: "acme/real-model" });
    await admin.providers.create({ payoutAddress: "0x00000000000000000000000000000000000000bb", name: "Acme" });
    const network = await startNetwork();
    expect(network.demo).to.equal(null);
    expect(network.demoDecision).to.deep.equal({ run: false, reason: "providers are configured" });
    expect(await admin.models.get(DEMO_MODEL.id)).to.equal(null);
  });
});
