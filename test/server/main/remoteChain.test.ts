import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import pino from "pino";
import { deployEscrow } from "../../../scripts/lib/deployEscrow";
import { loadConfig } from "../../../server/config";
import { ChainModeError, resolveChainMode } from "../../../server/main/chain/chainMode";
import { startLocalNetwork } from "../../../server/main/localNetwork";
import { createTestDatabase, type TestDatabase } from "../../support/database";
import { startHardhatNode, type HardhatNode } from "../../support/hardhatNode";

/**
 * "Against a real chain the same code runs": RPC_URL, ESCROW_ADDRESS and the settlement keys name
 * an escrow already deployed (here on a hardhat node standing in for Base Sepolia); no local chain
 * is started, no demo, and the workers follow and settle on that escrow.
 */
describe("shareai start against a chain named by RPC_URL", function () {
  this.timeout(60_000);
  let node: HardhatNode;
  let testDatabase: TestDatabase;
  let deploymentsDir: string;
  let escrowAddress: string;
  let tokenAddress: string;
  let env: Record<string, string>;

  before(async () => {
    node = await startHardhatNode();
    const provider = node.provider();
    deploymentsDir = mkdtempSync(path.join(os.tmpdir(), "shareai-remote-"));
    const record = await deployEscrow(
      { deploymentsDir, treasury: node.account(3).address, settlementSigner: node.account(4).address },
      node.account(0, provider),
      () => undefined,
    );
    provider.destroy();
    escrowAddress = record.escrow.address;
    tokenAddress = record.usdc.address;
    testDatabase = await createTestDatabase();
    env = {
      PORT: "0",
      LOG_LEVEL: "silent",
      DATABASE_URL: testDatabase.url,
      HEALTH_CHECK_INTERVAL_MS: "600000",
      RPC_URL: node.url,
      ESCROW_ADDRESS: escrowAddress,
      ESCROW_DEPLOYMENT_BLOCK: String(record.escrow.blockNumber),
      SETTLEMENT_SIGNER_KEY: node.account(4).privateKey,
      SETTLEMENT_SUBMITTER_KEY: node.account(5).privateKey,
      CHAIN_CONFIRMATIONS: "1",
    };
  });

  after(async () => {
    await testDatabase?.drop();
    await node?.stop();
    if (deploymentsDir) rmSync(deploymentsDir, { recursive: true, force: true });
  });

  it("follows and settles on that escrow with no local chain and no demo", async () => {
    const network = await startLocalNetwork(loadConfig(env), { logger: pino({ level: "silent" }) });
    try {
      expect(network.localChain).to.equal(null);
      expect(network.demo).to.equal(null);
      expect(network.demoDecision.run).to.equal(false);
      expect(network.chain).to.deep.include({
        mode: "rpc",
        rpcUrl: node.url,
        chainId: 31337n,
        escrowAddress,
        tokenAddress,
        treasury: node.account(3).address,
        confirmations: 1,
        local: null,
      });
      const status = network.gateway.chain!.workers.worker.status();
      expect(status).to.deep.include({
        signer: node.account(4).address.toLowerCase(),
        submitter: node.account(5).address.toLowerCase(),
      });
      expect(status.settings.intervalMs).to.equal(900_000);
      expect((await network.database.chain.cursor())?.escrow).to.equal(escrowAddress.toLowerCase());
    } finally {
      await network.stop();
    }
  });

  it("refuses without the settlement keys, or when CHAIN_ID is another chain, naming what is wrong", async () => {
    const { SETTLEMENT_SIGNER_KEY: _signer, SETTLEMENT_SUBMITTER_KEY: _submitter, ...keyless } = env;
    await startLocalNetwork(loadConfig(keyless), { logger: pino({ level: "silent" }) }).then(
      () => expect.fail("started without keys"),
      (error: Error) => expect(error.message).to.match(/SETTLEMENT_SIGNER_KEY and SETTLEMENT_SUBMITTER_KEY/),
    );
    await startLocalNetwork(loadConfig({ ...env, CHAIN_ID: "84532" }), { logger: pino({ level: "silent" }) }).then(
      () => expect.fail("started on the wrong chain"),
      (error: Error) => expect(error.message).to.match(/RPC_URL serves chain 31337 but CHAIN_ID is 84532/),
    );
  });

  it("chooses the chain: RPC_URL's, a local one without DATABASE_URL, and refuses DATABASE_URL alone", () => {
    const base = loadConfig({});
    expect(resolveChainMode(loadConfig({ RPC_URL: node.url }), "auto")).to.equal("rpc");
    expect(resolveChainMode(base, "auto")).to.equal("local");
    expect(resolveChainMode(base, "none")).to.equal("none");
    const withDatabase = loadConfig({ DATABASE_URL: "postgres://localhost/x" });
    expect(() => resolveChainMode(withDatabase, "auto")).to.throw(ChainModeError, /--local-chain.*--no-chain/s);
    expect(resolveChainMode(withDatabase, "local")).to.equal("local");
    expect(() => resolveChainMode(loadConfig({ RPC_URL: node.url }), "local")).to.throw(ChainModeError);
  });

  it("never echoes a settlement key or the RPC URL in a configuration error", () => {
    const secret = "ab".repeat(31);
    expect(() => loadConfig({ SETTLEMENT_SIGNER_KEY: secret, RPC_URL: "ftp://key-in-path" })).to.throw(
      /SETTLEMENT_SIGNER_KEY must be a 32-byte private key/,
    );
    try {
      loadConfig({ SETTLEMENT_SIGNER_KEY: secret, RPC_URL: "ftp://key-in-path" });
    } catch (error) {
      expect((error as Error).message).to.not.include(secret).and.not.include("key-in-path");
    }
  });
});
