import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  chainWatcherEnvFrom,
  ChainWatcherConfigError,
  defaultConfirmations,
  locateEscrow,
} from "../../../server/chain/chainWatcherSettings";

const ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const OTHER = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";

describe("chain/chainWatcherSettings", () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), "shareai-watcher-settings-"));
    writeFileSync(
      path.join(dir, "31337.json"),
      JSON.stringify({
        chainId: 31337,
        escrow: { address: ESCROW, blockNumber: 4, txHash: `0x${"11".repeat(32)}` },
        usdc: { address: OTHER, deployedHere: true },
        owner: OTHER,
        treasury: OTHER,
        feeBps: 1000,
        thawingPeriodSeconds: 604800,
        signers: [],
        deployedAt: "2026-01-01T00:00:00.000Z",
      }),
    );
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the variables with their defaults, empty meaning unset", () => {
    expect(chainWatcherEnvFrom({ CHAIN_CONFIRMATIONS: "" })).to.deep.equal({
      rpcUrl: "http://127.0.0.1:8545",
      escrowAddress: null,
      escrowDeploymentBlock: null,
      deploymentsFile: null,
      confirmations: null,
      pollIntervalMs: 2_000,
      logBlockRange: 2_000,
      maxReorgDepth: 128,
    });
    expect(
      chainWatcherEnvFrom({
        RPC_URL: "https://sepolia.base.org",
        ESCROW_ADDRESS: ESCROW.toLowerCase(),
        ESCROW_DEPLOYMENT_BLOCK: "123",
        CHAIN_CONFIRMATIONS: "0",
        CHAIN_POLL_INTERVAL_MS: "500",
        CHAIN_LOG_BLOCK_RANGE: "10",
        CHAIN_MAX_REORG_DEPTH: "64",
      }),
    ).to.deep.include({ escrowAddress: ESCROW, escrowDeploymentBlock: 123, confirmations: 0, logBlockRange: 10 });
  });

  it("names every bad variable", () => {
    expect(() => chainWatcherEnvFrom({ RPC_URL: "localhost", CHAIN_LOG_BLOCK_RANGE: "0", ESCROW_ADDRESS: "0x12" }))
      .to.throw(ChainWatcherConfigError)
      .with.property("message")
      .that.matches(/RPC_URL/)
      .and.matches(/CHAIN_LOG_BLOCK_RANGE/)
      .and.matches(/ESCROW_ADDRESS/);
  });

  it("defaults to 2 confirmations on the local chain and 5 elsewhere", () => {
    expect(defaultConfirmations(31337n)).to.equal(2);
    expect(defaultConfirmations(84532n)).to.equal(5);
  });

  it("finds the escrow and its deployment block in ESCROW_ADDRESS or the deployments file", () => {
    const none = { escrowAddress: null, escrowDeploymentBlock: null, deploymentsFile: null };
    expect(locateEscrow(none, 31337n, dir)).to.deep.include({ address: ESCROW, deploymentBlock: 4 });
    expect(locateEscrow({ ...none, escrowAddress: ESCROW }, 31337n, dir)).to.deep.include({ deploymentBlock: 4 });
    expect(locateEscrow({ ...none, escrowAddress: OTHER }, 31337n, dir)).to.deep.include({ deploymentBlock: 0 });
    expect(locateEscrow({ ...none, escrowAddress: OTHER, escrowDeploymentBlock: 9 }, 31337n, dir)).to.deep.include({
      address: OTHER,
      deploymentBlock: 9,
    });
    expect(() => locateEscrow(none, 8453n, dir)).to.throw(/set ESCROW_ADDRESS/);
    expect(() => locateEscrow({ ...none, deploymentsFile: path.join(dir, "31337.json") }, 8453n, dir)).to.throw(
      /is for chain 31337/,
    );
  });
});
