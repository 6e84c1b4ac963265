import { expect } from "chai";
import { ethers, network } from "hardhat";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Signer } from "ethers";
import { deployEscrow, type DeployEscrowOptions } from "../../scripts/lib/deployEscrow";
import { deployOptionsFromEnv } from "../../scripts/lib/deployEnv";
import type { DeploymentRecord } from "../../scripts/lib/deploymentRecord";
import { MockUSDC__factory, UsageEscrow__factory } from "../../typechain-types";

const BASE_SEPOLIA_CHAIN_ID = 84532n;

/**
 * The in-process chain seen through a provider that reports another chain id, so the off-local
 * rules (no MockUSDC, treasury required) can be exercised without a second chain.
 */
async function signerOnChain(chainId: bigint, address: string): Promise<Signer> {
  const provider = new ethers.BrowserProvider({
    request: async ({ method, params }) =>
      method === "eth_chainId" ? ethers.toQuantity(chainId) : network.provider.request({ method, params }),
  });
  return provider.getSigner(address);
}

describe("scripts/lib/deployEscrow", function () {
  let deployer: HardhatEthersSigner;
  let signerA: HardhatEthersSigner;
  let signerB: HardhatEthersSigner;
  let newOwner: HardhatEthersSigner;
  let treasury: HardhatEthersSigner;
  let dir: string;
  let lines: string[];

  const log = (line: string) => lines.push(line);
  const run = (options: DeployEscrowOptions = {}, by: Signer = deployer) =>
    deployEscrow({ deploymentsDir: dir, ...options }, by, log);
  const recordFile = (chainId: bigint = 31337n) => join(dir, `${chainId}.json`);
  const readFile = (chainId?: bigint): DeploymentRecord => JSON.parse(readFileSync(recordFile(chainId), "utf8"));
  const nonce = () => deployer.getNonce();

  before(async function () {
    [deployer, signerA, signerB, newOwner, treasury] = await ethers.getSigners();
  });

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "deploy-test-"));
    lines = [];
  });

  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it("deploys MockUSDC and the escrow on the local chain and records them", async function () {
    const record = await run();

    expect(readFile()).to.deep.equal(record);
    expect(record.chainId).to.equal(31337);
    expect(record.usdc.deployedHere).to.equal(true);
    expect(record.usdc.txHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(record).to.include({ owner: deployer.address, treasury: deployer.address, feeBps: 1000 });
    expect(record.thawingPeriodSeconds).to.equal(7 * 24 * 60 * 60);
    expect(record.signers).to.deep.equal([]);
    expect(record).not.to.have.property("pendingOwner");
    expect(new Date(record.deployedAt).getTime()).to.be.greaterThan(0);

    const escrow = UsageEscrow__factory.connect(record.escrow.address, ethers.provider);
    expect(await escrow.token()).to.equal(record.usdc.address);
    expect(await escrow.owner()).to.equal(deployer.address);
    expect(await escrow.treasury()).to.equal(deployer.address);
    expect(await escrow.feeBps()).to.equal(1000n);
    expect(await escrow.thawingPeriod()).to.equal(604_800n);
    const receipt = await ethers.provider.getTransactionReceipt(record.escrow.txHash);
    expect(receipt?.contractAddress).to.equal(record.escrow.address);
    expect(receipt?.blockNumber).to.equal(record.escrow.blockNumber);
    expect(await MockUSDC__factory.connect(record.usdc.address, ethers.provider).decimals()).to.equal(6n);
  });

  it("takes the given settings", async function () {
    const record = await run({ treasury: treasury.address, feeBps: 250, thawingPeriodSeconds: 3600n });

    const escrow = UsageEscrow__factory.connect(record.escrow.address, ethers.provider);
    expect(await escrow.treasury()).to.equal(treasury.address);
    expect(await escrow.feeBps()).to.equal(250n);
    expect(await escrow.thawingPeriod()).to.equal(3600n);
    expect(record).to.include({ treasury: treasury.address, feeBps: 250, thawingPeriodSeconds: 3600 });
  });

  it("reuses the recorded escrow on a re-run without sending a transaction", async function () {
    const first = await run();
    const before = await nonce();

    const second = await run();

    expect(second).to.deep.equal(first);
    expect(await nonce()).to.equal(before);
    expect(lines.join("\n")).to.include(`Reusing:   UsageEscrow ${first.escrow.address}`);
  });

  it("deploys a new escrow and MockUSDC when asked to redeploy", async function () {
    const first = await run();

    const second = await run({ redeploy: true });

    expect(second.escrow.address).not.to.equal(first.escrow.address);
    expect(second.usdc.address).not.to.equal(first.usdc.address);
    expect(readFile().escrow.address).to.equal(second.escrow.address);
    expect(await ethers.provider.getCode(first.escrow.address)).not.to.equal("0x");
  });

  it("replaces a record that points at an address without code", async function () {
    const first = await run();
    const gone = ethers.Wallet.createRandom().address;
    writeFileSync(recordFile(), JSON.stringify({ ...first, escrow: { ...first.escrow, address: gone } }));

    const second = await run();

    expect(second.escrow.address).not.to.equal(gone);
    expect(second.escrow.address).not.to.equal(first.escrow.address);
    expect(await ethers.provider.getCode(second.escrow.address)).not.to.equal("0x");
    expect(readFile()).to.deep.equal(second);
    expect(lines.join("\n")).to.include(`Stale:     no contract at ${gone}`);
  });

  it("authorises a settlement signer only if it is not yet", async function () {
    const first = await run({ settlementSigner: signerA.address });
    const escrow = UsageEscrow__factory.connect(first.escrow.address, deployer);
    expect(await escrow.isSigner(signerA.address)).to.equal(true);
    expect(first.signers).to.deep.equal([signerA.address]);

    const before = await nonce();
    expect(await run({ settlementSigner: signerA.address })).to.deep.equal(first);
    expect(await nonce()).to.equal(before);
    expect(lines.join("\n")).to.include(`Signer:    ${signerA.address} is already authorised`);

    const second = await run({ settlementSigner: signerB.address });
    expect(await nonce()).to.equal(before + 1);
    expect(second.escrow.address).to.equal(first.escrow.address);
    expect(second.signers).to.deep.equal([signerA.address, signerB.address]);

    // A signer revoked behind the script's back drops out of the record on the next run.
    await escrow.revokeSigner(signerA.address);
    expect((await run()).signers).to.deep.equal([signerB.address]);
  });

  it("authorises the signer before handing the escrow to another owner", async function () {
    const record = await run({ owner: newOwner.address, settlementSigner: signerA.address });

    const escrow = UsageEscrow__factory.connect(record.escrow.address, newOwner);
    expect(await escrow.isSigner(signerA.address)).to.equal(true);
    expect(await escrow.pendingOwner()).to.equal(newOwner.address);
    expect(record).to.include({ owner: deployer.address, pendingOwner: newOwner.address });
    expect(lines.join("\n")).to.include(`until ${newOwner.address} calls acceptOwnership()`);

    await escrow.acceptOwnership();
    const accepted = await run({ owner: newOwner.address, settlementSigner: signerA.address });
    expect(accepted.owner).to.equal(newOwner.address);
    expect(accepted).not.to.have.property("pendingOwner");

    await expect(run({ owner: newOwner.address, settlementSigner: signerB.address })).to.be.rejectedWith(
      `the owner must call authorizeSigner(${signerB.address})`,
    );
  });

  it("deploys directly to another owner when no signer is to be authorised", async function () {
    const record = await run({ owner: newOwner.address });

    expect(record.owner).to.equal(newOwner.address);
    expect(record).not.to.have.property("pendingOwner");
  });

  it("refuses to reuse an escrow configured differently from what was asked", async function () {
    const first = await run();

    await expect(run({ feeBps: 500 })).to.be.rejectedWith(/feeBps: 1000 on chain, 500 asked[\s\S]*REDEPLOY=1/);
    await expect(run({ treasury: treasury.address })).to.be.rejectedWith(/treasury: /);
    expect(readFile()).to.deep.equal(first);
  });

  it("rejects a malformed record instead of overwriting it", async function () {
    const record = await run();
    const corrupt = JSON.stringify({ ...record, escrow: { ...record.escrow, address: "nope" } });
    writeFileSync(recordFile(), corrupt);

    await expect(run()).to.be.rejectedWith(/is not a deployment record: escrow.address is not an address/);
    expect(readFileSync(recordFile(), "utf8")).to.equal(corrupt);
  });

  describe("off the local chain", function () {
    it("requires a USDC address, naming the variable", async function () {
      const signer = await signerOnChain(BASE_SEPOLIA_CHAIN_ID, deployer.address);
      const before = await nonce();

      await expect(run({ treasury: treasury.address }, signer)).to.be.rejectedWith(
        /USDC_ADDRESS is required on chain 84532/,
      );
      expect(await nonce()).to.equal(before);
    });

    it("requires a treasury", async function () {
      const signer = await signerOnChain(BASE_SEPOLIA_CHAIN_ID, deployer.address);
      const usdc = await new MockUSDC__factory(deployer).deploy();

      await expect(run({ usdcAddress: await usdc.getAddress() }, signer)).to.be.rejectedWith(
        /TREASURY_ADDRESS is required on chain 84532/,
      );
    });

    it("rejects a USDC address without a contract", async function () {
      const signer = await signerOnChain(BASE_SEPOLIA_CHAIN_ID, deployer.address);
      const nothing = ethers.Wallet.createRandom().address;

      await expect(run({ usdcAddress: nothing, treasury: treasury.address }, signer)).to.be.rejectedWith(
        `USDC_ADDRESS ${nothing} has no contract on chain 84532`,
      );
    });

    it("deploys only the escrow, on the given token", async function () {
      const signer = await signerOnChain(BASE_SEPOLIA_CHAIN_ID, deployer.address);
      const usdcAddress = await (await new MockUSDC__factory(deployer).deploy()).getAddress();

      const record = await run({ usdcAddress, treasury: treasury.address }, signer);

      expect(record.chainId).to.equal(84532);
      expect(record.usdc).to.deep.equal({ address: usdcAddress, deployedHere: false });
      expect(readFile(BASE_SEPOLIA_CHAIN_ID)).to.deep.equal(record);
      expect(await UsageEscrow__factory.connect(record.escrow.address, ethers.provider).token()).to.equal(usdcAddress);
    });
  });
});

describe("scripts/lib/deployEnv", function () {
  it("reads the settings, treating empty variables as unset", function () {
    expect(
      deployOptionsFromEnv({
        USDC_ADDRESS: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
        TREASURY_ADDRESS: "",
        THAWING_PERIOD_SECONDS: "3600",
        FEE_BPS: "1000",
        DEPLOYMENTS_DIR: "out",
        REDEPLOY: "1",
      }),
    ).to.deep.equal({
      usdcAddress: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
      owner: undefined,
      treasury: undefined,
      settlementSigner: undefined,
      thawingPeriodSeconds: 3600n,
      feeBps: 1000,
      deploymentsDir: "out",
      redeploy: true,
    });
    expect(deployOptionsFromEnv({ REDEPLOY: "0" }).redeploy).to.equal(false);
    expect(deployOptionsFromEnv({}).redeploy).to.equal(false);
  });

  it("rejects numbers that are not whole or out of range", function () {
    expect(() => deployOptionsFromEnv({ FEE_BPS: "10.5" })).to.throw("FEE_BPS must be a whole number");
    expect(() => deployOptionsFromEnv({ FEE_BPS: "10001" })).to.throw("FEE_BPS must be at most 10000");
    expect(() => deployOptionsFromEnv({ THAWING_PERIOD_SECONDS: "7d" })).to.throw("THAWING_PERIOD_SECONDS");
  });
});
