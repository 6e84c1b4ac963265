import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { FeeOnTransferToken, ReentrantToken } from "../../typechain-types";

const UNIT = 1_000_000n;

// These tokens exist to attack or confuse the escrow; the tests only pin down that they misbehave
// exactly as the escrow's tests assume.

describe("ReentrantToken", function () {
  async function deployFixture() {
    const [alice, bob, carol] = await ethers.getSigners();
    const token: ReentrantToken = await ethers.deployContract("ReentrantToken");
    await token.mint(alice.address, 100n * UNIT);
    const tokenAddress = await token.getAddress();
    return { token, tokenAddress, alice, bob, carol };
  }

  it("has 6 decimals and lets anyone mint", async function () {
    const { token, bob } = await loadFixture(deployFixture);
    expect(await token.decimals()).to.equal(6n);
    await token.connect(bob).mint(bob.address, UNIT);
    expect(await token.balanceOf(bob.address)).to.equal(UNIT);
  });

  it("calls the target before moving balances and records its success", async function () {
    const { token, tokenAddress, alice, bob, carol } = await loadFixture(deployFixture);
    const data = token.interface.encodeFunctionData("mint", [carol.address, 7n]);
    await token.setReentry(tokenAddress, data);
    await expect(token.connect(alice).transfer(bob.address, UNIT))
      .to.emit(token, "ReentryAttempted")
      .withArgs(tokenAddress, true, "0x");
    expect(await token.lastReentrySucceeded()).to.equal(true);
    expect(await token.lastReentryRevertData()).to.equal("0x");
    expect(await token.balanceOf(carol.address)).to.equal(7n);
    expect(await token.balanceOf(bob.address)).to.equal(UNIT);
  });

  it("swallows and records a refused reentry, and the outer transferFrom still completes", async function () {
    const { token, tokenAddress, alice, bob, carol } = await loadFixture(deployFixture);
    // Minting to the zero address reverts: a stand-in for a reentrancy guard refusing the call.
    const data = token.interface.encodeFunctionData("mint", [ethers.ZeroAddress, 1n]);
    const revertData = token.interface.encodeErrorResult("ERC20InvalidReceiver", [ethers.ZeroAddress]);
    await token.connect(alice).approve(bob.address, UNIT);
    await token.setReentry(tokenAddress, data);
    await expect(token.connect(bob).transferFrom(alice.address, carol.address, UNIT))
      .to.emit(token, "ReentryAttempted")
      .withArgs(tokenAddress, false, revertData);
    expect(await token.lastReentrySucceeded()).to.equal(false);
    expect(await token.lastReentryRevertData()).to.equal(revertData);
    expect(await token.balanceOf(carol.address)).to.equal(UNIT);
  });

  it("fires once per setReentry, even when the reentrant call transfers again", async function () {
    const { token, tokenAddress, alice, bob, carol } = await loadFixture(deployFixture);
    await token.mint(tokenAddress, UNIT);
    // The token transfers its own tokens inside the hook: armed, this would recurse forever.
    await token.setReentry(tokenAddress, token.interface.encodeFunctionData("transfer", [carol.address, UNIT]));
    const first = token.connect(alice).transfer(bob.address, UNIT);
    const returnedTrue = ethers.AbiCoder.defaultAbiCoder().encode(["bool"], [true]);
    await expect(first).to.emit(token, "ReentryAttempted").withArgs(tokenAddress, true, returnedTrue);
    expect(await token.balanceOf(carol.address)).to.equal(UNIT);
    await expect(token.connect(alice).transfer(bob.address, UNIT)).not.to.emit(token, "ReentryAttempted");
  });
});

describe("FeeOnTransferToken", function () {
  const FEE_BPS = 100n; // 1%

  async function deployFixture() {
    const [alice, bob, carol] = await ethers.getSigners();
    const token: FeeOnTransferToken = await ethers.deployContract("FeeOnTransferToken", [FEE_BPS]);
    await token.mint(alice.address, 1_000n * UNIT);
    return { token, alice, bob, carol };
  }

  it("has 6 decimals and mints without a fee", async function () {
    const { token, alice } = await loadFixture(deployFixture);
    expect(await token.decimals()).to.equal(6n);
    expect(await token.feeBps()).to.equal(FEE_BPS);
    expect(await token.balanceOf(alice.address)).to.equal(1_000n * UNIT);
  });

  it("burns the fee on transfer, so the recipient gets less than was sent", async function () {
    const { token, alice, bob } = await loadFixture(deployFixture);
    const tx = token.connect(alice).transfer(bob.address, 100n * UNIT);
    await expect(tx).to.emit(token, "Transfer").withArgs(alice.address, ethers.ZeroAddress, UNIT);
    await expect(tx).to.emit(token, "Transfer").withArgs(alice.address, bob.address, 99n * UNIT);
    await expect(tx).to.changeTokenBalances(token, [alice, bob], [-100n * UNIT, 99n * UNIT]);
    expect(await token.totalSupply()).to.equal(999n * UNIT);
  });

  it("charges the fee on transferFrom too", async function () {
    const { token, alice, bob, carol } = await loadFixture(deployFixture);
    await token.connect(alice).approve(bob.address, 100n * UNIT);
    await expect(token.connect(bob).transferFrom(alice.address, carol.address, 100n * UNIT)).to.changeTokenBalances(
      token,
      [alice, carol],
      [-100n * UNIT, 99n * UNIT],
    );
  });

  it("lets the fee be changed, and refuses one above 100%", async function () {
    const { token, alice, bob } = await loadFixture(deployFixture);
    await expect(token.setFeeBps(0)).to.emit(token, "FeeBpsChanged").withArgs(0n);
    await expect(token.connect(alice).transfer(bob.address, UNIT)).to.changeTokenBalance(token, bob, UNIT);
    await expect(token.setFeeBps(10_001))
      .to.be.revertedWithCustomError(token, "FeeOnTransferTokenInvalidFeeBps")
      .withArgs(10_001n);
    const factory = await ethers.getContractFactory("FeeOnTransferToken");
    await expect(factory.deploy(10_001))
      .to.be.revertedWithCustomError(factory, "FeeOnTransferTokenInvalidFeeBps")
      .withArgs(10_001n);
  });
});
