import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { deployEscrowFixture, FEE_BPS, splitOf, THAWING_PERIOD, USDC } from "./helpers/escrowFixture";
import {
  authorization,
  callFromToken,
  signAuthorization,
  signPermit,
  type Authorization,
  type SplitSignature,
} from "./helpers/payerActions";
import { escrowDomain, hashVoucher, signVoucher, type Voucher } from "../../server/chain/voucher";
import type { FunctionFragment } from "ethers";
import type { UsageEscrow } from "../../typechain-types";

// Everything but `settle` itself, which has its own file; settle appears here only to create earnings.

type EscrowFixture = Awaited<ReturnType<typeof deployEscrowFixture>>;

const USAGE_ROOT = ethers.id("receipts since the previous voucher");
const MAX_UINT128 = 2n ** 128n - 1n;

async function settleVoucher(fx: EscrowFixture, payer: string, provider: string, cumulativeAmount: bigint) {
  const voucher: Voucher = { payer, provider, cumulativeAmount, usageRoot: USAGE_ROOT };
  await fx.escrow.settle([voucher], [await fx.sign(voucher)]);
}

/** payerA has 100 USDC and payerB 200 USDC available in the escrow. */
async function depositedFixture() {
  const fx = await deployEscrowFixture();
  const [payerA, payerB] = fx.payers;
  await fx.escrow.connect(payerA).deposit(100n * USDC);
  await fx.escrow.connect(payerB).deposit(200n * USDC);
  return fx;
}

/** On top of the deposits, payerA has paid providerA 10 USDC: providerA can claim 9, the treasury 1. */
async function settledFixture() {
  const fx = await depositedFixture();
  const [payerA] = fx.payers;
  const [providerA] = fx.providers;
  await settleVoucher(fx, payerA.address, providerA.address, 10n * USDC);
  return fx;
}

/** Two accounts outside the fixture: `holder` owns 1,000 USDC but has approved nothing; `relayer` owns nothing. */
async function walletFixture() {
  const fx = await deployEscrowFixture();
  const signers = await ethers.getSigners();
  const [holder, relayer] = [signers[10], signers[11]];
  await fx.usdc.mint(holder.address, 1_000n * USDC);
  return { ...fx, holder, relayer };
}

/** Asks for a withdrawal in a block whose timestamp is known, and returns the thawEndsAt it must set. */
async function thawEndsAtOfNextBlock(): Promise<{ at: bigint; thawEndsAt: bigint }> {
  const at = BigInt(await time.latest()) + 10n;
  await time.setNextBlockTimestamp(at);
  return { at, thawEndsAt: at + THAWING_PERIOD };
}

describe("UsageEscrow: payers, payees and administration", function () {
  describe("constructor", function () {
    it("stores every argument: token, owner, treasury, fee and thawing period", async function () {
      const { usdc, stranger, treasury } = await loadFixture(deployEscrowFixture);
      // Values unlike the fixture's, so nothing can pass by being hard-coded.
      const escrow = await ethers.deployContract("UsageEscrow", [usdc, stranger.address, treasury.address, 250, 3600]);
      expect(await escrow.token()).to.equal(await usdc.getAddress());
      expect(await escrow.owner()).to.equal(stranger.address);
      expect(await escrow.pendingOwner()).to.equal(ethers.ZeroAddress);
      expect(await escrow.treasury()).to.equal(treasury.address);
      expect(await escrow.feeBps()).to.equal(250n);
      expect(await escrow.thawingPeriod()).to.equal(3600n);
      expect(await escrow.isSigner(stranger.address)).to.equal(false);
    });

    it("announces the first treasury with TreasuryChanged(0, treasury)", async function () {
      const { usdc, owner, treasury } = await loadFixture(deployEscrowFixture);
      const escrow = await ethers.deployContract("UsageEscrow", [usdc, owner.address, treasury.address, FEE_BPS, THAWING_PERIOD]);
      await expect(escrow.deploymentTransaction())
        .to.emit(escrow, "TreasuryChanged")
        .withArgs(ethers.ZeroAddress, treasury.address);
    });

    it("accepts a fee of exactly 10,000 bps and of 0 bps", async function () {
      const { usdc, owner, treasury } = await loadFixture(deployEscrowFixture);
      for (const feeBps of [10_000n, 0n]) {
        const escrow = await ethers.deployContract("UsageEscrow", [usdc, owner.address, treasury.address, feeBps, 1n]);
        expect(await escrow.feeBps()).to.equal(feeBps);
      }
    });

    it("reverts with UsageEscrowInvalidFeeBps(feeBps) for a fee above 10,000 bps", async function () {
      const { usdc, escrow, owner, treasury } = await loadFixture(deployEscrowFixture);
      await expect(ethers.deployContract("UsageEscrow", [usdc, owner.address, treasury.address, 10_001, THAWING_PERIOD]))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowInvalidFeeBps")
        .withArgs(10_001);
    });

    it("reverts with UsageEscrowZeroAddress for a zero token", async function () {
      const { escrow, owner, treasury } = await loadFixture(deployEscrowFixture);
      await expect(
        ethers.deployContract("UsageEscrow", [ethers.ZeroAddress, owner.address, treasury.address, FEE_BPS, THAWING_PERIOD]),
      )
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAddress")
        .withArgs();
    });

    it("reverts with UsageEscrowZeroAddress for a zero treasury", async function () {
      const { usdc, escrow, owner } = await loadFixture(deployEscrowFixture);
      await expect(ethers.deployContract("UsageEscrow", [usdc, owner.address, ethers.ZeroAddress, FEE_BPS, THAWING_PERIOD]))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAddress")
        .withArgs();
    });

    it("reverts with OwnableInvalidOwner(0) for a zero owner", async function () {
      const { usdc, escrow, treasury } = await loadFixture(deployEscrowFixture);
      await expect(ethers.deployContract("UsageEscrow", [usdc, ethers.ZeroAddress, treasury.address, FEE_BPS, THAWING_PERIOD]))
        .to.be.revertedWithCustomError(escrow, "OwnableInvalidOwner")
        .withArgs(ethers.ZeroAddress);
    });

    it("reverts with UsageEscrowZeroAmount for a zero thawing period", async function () {
      const { usdc, escrow, owner, treasury } = await loadFixture(deployEscrowFixture);
      await expect(ethers.deployContract("UsageEscrow", [usdc, owner.address, treasury.address, FEE_BPS, 0]))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAmount")
        .withArgs();
    });
  });

  describe("EIP-712", function () {
    it("signs under the domain (ShareAI UsageEscrow, version 1, chainId, escrow address)", async function () {
      const { escrow, escrowAddress } = await loadFixture(deployEscrowFixture);
      const [fields, name, version, chainId, verifyingContract, salt, extensions] = await escrow.eip712Domain();
      // 0x0f: name, version, chainId and verifyingContract are set; salt is not.
      expect(fields).to.equal("0x0f");
      expect(name).to.equal("ShareAI UsageEscrow");
      expect(version).to.equal("1");
      expect(chainId).to.equal((await ethers.provider.getNetwork()).chainId);
      expect(chainId).to.equal(BigInt(network.config.chainId ?? 31337));
      expect(verifyingContract).to.equal(escrowAddress);
      expect(salt).to.equal(ethers.ZeroHash);
      expect([...extensions]).to.deep.equal([]);
    });

    it("hashVoucher equals the TypedDataEncoder digest the server signs", async function () {
      const { escrow, escrowAddress, payers, providers, signer, sign } = await loadFixture(deployEscrowFixture);
      const domain = escrowDomain((await ethers.provider.getNetwork()).chainId, escrowAddress);
      const vouchers: Voucher[] = [
        { payer: payers[0].address, provider: providers[0].address, cumulativeAmount: 1n, usageRoot: USAGE_ROOT },
        { payer: payers[1].address, provider: providers[2].address, cumulativeAmount: MAX_UINT128, usageRoot: ethers.ZeroHash },
      ];
      for (const voucher of vouchers) {
        const digest = hashVoucher(domain, voucher);
        expect(await escrow.hashVoucher(voucher)).to.equal(digest);
        expect(ethers.recoverAddress(digest, await sign(voucher))).to.equal(signer.address);
      }
    });

    it("hashVoucher depends on the escrow address, so a voucher for one escrow is useless at another", async function () {
      const { usdc, escrow, owner, treasury, payers, providers } = await loadFixture(deployEscrowFixture);
      const other = await ethers.deployContract("UsageEscrow", [usdc, owner.address, treasury.address, FEE_BPS, THAWING_PERIOD]);
      const voucher: Voucher = {
        payer: payers[0].address,
        provider: providers[0].address,
        cumulativeAmount: USDC,
        usageRoot: USAGE_ROOT,
      };
      expect(await other.hashVoucher(voucher)).to.not.equal(await escrow.hashVoucher(voucher));
    });
  });

  describe("deposit and depositFor", function () {
    it("deposit credits the caller's available balance with exactly the amount pulled", async function () {
      const { usdc, escrow, escrowAddress, payers } = await loadFixture(deployEscrowFixture);
      const [payerA] = payers;
      const tx = escrow.connect(payerA).deposit(100n * USDC);
      await expect(tx).to.emit(escrow, "Deposited").withArgs(payerA.address, payerA.address, 100n * USDC);
      await expect(tx).to.changeTokenBalances(usdc, [payerA.address, escrowAddress], [-100n * USDC, 100n * USDC]);
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([100n * USDC, 0n, 0n]);
    });

    it("deposits add up", async function () {
      const { escrow, payers } = await loadFixture(deployEscrowFixture);
      const [payerA] = payers;
      await escrow.connect(payerA).deposit(100n * USDC);
      await expect(escrow.connect(payerA).deposit(1n))
        .to.emit(escrow, "Deposited")
        .withArgs(payerA.address, payerA.address, 1n);
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([100n * USDC + 1n, 0n, 0n]);
    });

    it("depositFor lets anyone fund anyone: the payer is credited, the caller pays", async function () {
      const { usdc, escrow, escrowAddress, payers, stranger } = await loadFixture(deployEscrowFixture);
      const [payerA, payerB] = payers;
      const tx = escrow.connect(payerB).depositFor(stranger.address, 40n * USDC);
      await expect(tx).to.emit(escrow, "Deposited").withArgs(stranger.address, payerB.address, 40n * USDC);
      await expect(tx).to.changeTokenBalances(
        usdc,
        [payerB.address, stranger.address, escrowAddress],
        [-40n * USDC, 0n, 40n * USDC],
      );
      expect(await escrow.balanceOf(stranger.address)).to.deep.equal([40n * USDC, 0n, 0n]);
      expect(await escrow.balanceOf(payerB.address)).to.deep.equal([0n, 0n, 0n]);
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([0n, 0n, 0n]);
    });

    it("depositFor adds to the payer's own deposit", async function () {
      const { escrow, payers } = await loadFixture(deployEscrowFixture);
      const [payerA, payerB] = payers;
      await escrow.connect(payerA).deposit(10n * USDC);
      await escrow.connect(payerB).depositFor(payerA.address, 5n * USDC);
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([15n * USDC, 0n, 0n]);
    });

    it("deposit of zero reverts with UsageEscrowZeroAmount", async function () {
      const { escrow, payers } = await loadFixture(deployEscrowFixture);
      await expect(escrow.connect(payers[0]).deposit(0)).to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAmount").withArgs();
    });

    it("depositFor of zero reverts with UsageEscrowZeroAmount", async function () {
      const { escrow, payers } = await loadFixture(deployEscrowFixture);
      await expect(escrow.connect(payers[0]).depositFor(payers[1].address, 0))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAmount")
        .withArgs();
    });

    it("depositFor the zero payer reverts with UsageEscrowZeroAddress", async function () {
      const { escrow, payers } = await loadFixture(deployEscrowFixture);
      await expect(escrow.connect(payers[0]).depositFor(ethers.ZeroAddress, USDC))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAddress")
        .withArgs();
    });

    it("a deposit without allowance reverts in the token (ERC20InsufficientAllowance)", async function () {
      const { usdc, escrow, escrowAddress, stranger } = await loadFixture(deployEscrowFixture);
      await usdc.mint(stranger.address, 10n * USDC);
      await expect(escrow.connect(stranger).deposit(10n * USDC))
        .to.be.revertedWithCustomError(usdc, "ERC20InsufficientAllowance")
        .withArgs(escrowAddress, 0n, 10n * USDC);
      await expect(escrow.connect(stranger).depositFor(stranger.address, 10n * USDC))
        .to.be.revertedWithCustomError(usdc, "ERC20InsufficientAllowance")
        .withArgs(escrowAddress, 0n, 10n * USDC);
    });

    it("a deposit above the caller's token balance reverts in the token (ERC20InsufficientBalance)", async function () {
      const { usdc, escrow, payers } = await loadFixture(deployEscrowFixture);
      const [payerA] = payers;
      await expect(escrow.connect(payerA).deposit(1_000n * USDC + 1n))
        .to.be.revertedWithCustomError(usdc, "ERC20InsufficientBalance")
        .withArgs(payerA.address, 1_000n * USDC, 1_000n * USDC + 1n);
    });

    it("a deposit that would overflow the 128-bit accounting reverts with UsageEscrowAmountTooLarge", async function () {
      const { usdc, escrow, payers } = await loadFixture(deployEscrowFixture);
      const [payerA] = payers;
      await usdc.mint(payerA.address, MAX_UINT128);
      await escrow.connect(payerA).deposit(MAX_UINT128);
      await expect(escrow.connect(payerA).deposit(1n))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowAmountTooLarge")
        .withArgs(MAX_UINT128 + 1n);
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([MAX_UINT128, 0n, 0n]);
    });
  });

  describe("fee-on-transfer token", function () {
    async function feeOnTransferFixture() {
      const fx = await deployEscrowFixture();
      const token = await ethers.deployContract("FeeOnTransferToken", [100]); // 1% burnt per transfer
      const escrow = await ethers.deployContract("UsageEscrow", [
        token,
        fx.owner.address,
        fx.treasury.address,
        FEE_BPS,
        THAWING_PERIOD,
      ]);
      const escrowAddress = await escrow.getAddress();
      const [payerA, payerB] = fx.payers;
      for (const payer of [payerA, payerB]) {
        await token.mint(payer.address, 1_000n * USDC);
        await token.connect(payer).approve(escrowAddress, ethers.MaxUint256);
      }
      return { token, escrow, escrowAddress, payerA, payerB };
    }

    it("deposit credits what arrived, not the amount asked", async function () {
      const { token, escrow, escrowAddress, payerA } = await loadFixture(feeOnTransferFixture);
      const tx = escrow.connect(payerA).deposit(1_000n * USDC);
      await expect(tx).to.emit(escrow, "Deposited").withArgs(payerA.address, payerA.address, 990n * USDC);
      await expect(tx).to.changeTokenBalances(token, [payerA.address, escrowAddress], [-1_000n * USDC, 990n * USDC]);
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([990n * USDC, 0n, 0n]);
    });

    it("depositFor credits the payer with what arrived", async function () {
      const { escrow, payerA, payerB } = await loadFixture(feeOnTransferFixture);
      await expect(escrow.connect(payerB).depositFor(payerA.address, 500n * USDC))
        .to.emit(escrow, "Deposited")
        .withArgs(payerA.address, payerB.address, 495n * USDC);
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([495n * USDC, 0n, 0n]);
    });

    it("a deposit of which nothing arrives reverts with UsageEscrowZeroAmount", async function () {
      const { token, escrow, payerA } = await loadFixture(feeOnTransferFixture);
      await token.setFeeBps(10_000);
      await expect(escrow.connect(payerA).deposit(100n * USDC))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAmount")
        .withArgs();
    });

    it("the escrow never owes more than it holds: withdrawing everything credited leaves it empty", async function () {
      const { token, escrow, escrowAddress, payerA } = await loadFixture(feeOnTransferFixture);
      await escrow.connect(payerA).deposit(1_000n * USDC);
      expect(await token.balanceOf(escrowAddress)).to.equal(990n * USDC);
      await escrow.connect(payerA).requestWithdrawal(990n * USDC);
      await time.increase(THAWING_PERIOD);
      await expect(escrow.connect(payerA).withdraw(payerA.address))
        .to.emit(escrow, "Withdrawn")
        .withArgs(payerA.address, payerA.address, 990n * USDC);
      expect(await token.balanceOf(escrowAddress)).to.equal(0n);
    });
  });

  describe("depositWithPermit", function () {
    async function permitFor(fx: Awaited<ReturnType<typeof walletFixture>>, amount: bigint) {
      const deadline = BigInt(await time.latest()) + 3600n;
      const signature = await signPermit(fx.usdc, fx.holder, fx.escrowAddress, amount, deadline);
      return { deadline, ...signature };
    }

    it("credits msg.sender with a single signature and no prior approve", async function () {
      const fx = await loadFixture(walletFixture);
      const { usdc, escrow, escrowAddress, holder } = fx;
      const { deadline, v, r, s } = await permitFor(fx, 100n * USDC);
      const tx = escrow.connect(holder).depositWithPermit(100n * USDC, deadline, v, r, s);
      await expect(tx).to.emit(escrow, "Deposited").withArgs(holder.address, holder.address, 100n * USDC);
      await expect(tx).to.changeTokenBalances(usdc, [holder.address, escrowAddress], [-100n * USDC, 100n * USDC]);
      expect(await escrow.balanceOf(holder.address)).to.deep.equal([100n * USDC, 0n, 0n]);
      expect(await usdc.allowance(holder.address, escrowAddress)).to.equal(0n);
      expect(await usdc.nonces(holder.address)).to.equal(1n);
    });

    it("a permit front-run on the token does not block the deposit", async function () {
      const fx = await loadFixture(walletFixture);
      const { usdc, escrow, escrowAddress, holder, relayer } = fx;
      const { deadline, v, r, s } = await permitFor(fx, 100n * USDC);
      // Someone copies the permit from the mempool and submits it to the token first.
      await expect(usdc.connect(relayer).permit(holder.address, escrowAddress, 100n * USDC, deadline, v, r, s))
        .to.emit(usdc, "Approval")
        .withArgs(holder.address, escrowAddress, 100n * USDC);
      const tx = escrow.connect(holder).depositWithPermit(100n * USDC, deadline, v, r, s);
      await expect(tx).to.emit(escrow, "Deposited").withArgs(holder.address, holder.address, 100n * USDC);
      await expect(tx).to.changeTokenBalances(usdc, [holder.address, escrowAddress], [-100n * USDC, 100n * USDC]);
      expect(await escrow.balanceOf(holder.address)).to.deep.equal([100n * USDC, 0n, 0n]);
    });

    it("a permit signed by someone else, with no allowance, reverts (ERC20InsufficientAllowance)", async function () {
      const { usdc, escrow, escrowAddress, holder, relayer } = await loadFixture(walletFixture);
      const deadline = BigInt(await time.latest()) + 3600n;
      // The relayer signs a permit for the holder's tokens: the token refuses it, and nothing is approved.
      const forged: SplitSignature = await signPermit(usdc, relayer, escrowAddress, 100n * USDC, deadline);
      await expect(escrow.connect(holder).depositWithPermit(100n * USDC, deadline, forged.v, forged.r, forged.s))
        .to.be.revertedWithCustomError(usdc, "ERC20InsufficientAllowance")
        .withArgs(escrowAddress, 0n, 100n * USDC);
      expect(await escrow.balanceOf(holder.address)).to.deep.equal([0n, 0n, 0n]);
    });

    it("a permit cannot be stretched to a larger amount", async function () {
      const fx = await loadFixture(walletFixture);
      const { usdc, escrow, escrowAddress, holder } = fx;
      const { deadline, v, r, s } = await permitFor(fx, 100n * USDC);
      await expect(escrow.connect(holder).depositWithPermit(101n * USDC, deadline, v, r, s))
        .to.be.revertedWithCustomError(usdc, "ERC20InsufficientAllowance")
        .withArgs(escrowAddress, 0n, 101n * USDC);
    });

    it("a permit cannot be replayed: its second use finds no allowance and reverts", async function () {
      const fx = await loadFixture(walletFixture);
      const { usdc, escrow, escrowAddress, holder } = fx;
      const { deadline, v, r, s } = await permitFor(fx, 100n * USDC);
      await escrow.connect(holder).depositWithPermit(100n * USDC, deadline, v, r, s);
      await expect(escrow.connect(holder).depositWithPermit(100n * USDC, deadline, v, r, s))
        .to.be.revertedWithCustomError(usdc, "ERC20InsufficientAllowance")
        .withArgs(escrowAddress, 0n, 100n * USDC);
      expect(await escrow.balanceOf(holder.address)).to.deep.equal([100n * USDC, 0n, 0n]);
      expect(await usdc.balanceOf(holder.address)).to.equal(900n * USDC);
    });

    it("a permit submitted by someone else pulls from the submitter, never from the signer", async function () {
      const fx = await loadFixture(walletFixture);
      const { usdc, escrow, escrowAddress, holder, payers } = fx;
      const [payerA] = payers;
      const { deadline, v, r, s } = await permitFor(fx, 100n * USDC);
      // payerA has its own allowance: the holder's permit is checked against payerA and fails silently.
      const tx = escrow.connect(payerA).depositWithPermit(100n * USDC, deadline, v, r, s);
      await expect(tx).to.emit(escrow, "Deposited").withArgs(payerA.address, payerA.address, 100n * USDC);
      await expect(tx).to.changeTokenBalances(usdc, [payerA.address, holder.address], [-100n * USDC, 0n]);
      expect(await usdc.allowance(holder.address, escrowAddress)).to.equal(0n);
      expect(await escrow.balanceOf(holder.address)).to.deep.equal([0n, 0n, 0n]);
    });

    it("zero amount reverts with UsageEscrowZeroAmount", async function () {
      const fx = await loadFixture(walletFixture);
      const { escrow, holder } = fx;
      const { deadline, v, r, s } = await permitFor(fx, 0n);
      await expect(escrow.connect(holder).depositWithPermit(0n, deadline, v, r, s))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAmount")
        .withArgs();
    });
  });

  describe("depositWithAuthorization", function () {
    const args = (a: Authorization, sig: SplitSignature) =>
      [a.from, a.value, a.validAfter, a.validBefore, a.nonce, sig.v, sig.r, sig.s] as const;

    it("credits `from`, not msg.sender: Deposited(from, from, amount)", async function () {
      const { usdc, escrow, escrowAddress, holder } = await loadFixture(walletFixture);
      const auth = await authorization(holder.address, escrowAddress, 100n * USDC);
      const sig = await signAuthorization(usdc, holder, auth);
      const tx = escrow.connect(holder).depositWithAuthorization(...args(auth, sig));
      await expect(tx).to.emit(escrow, "Deposited").withArgs(holder.address, holder.address, 100n * USDC);
      await expect(tx).to.changeTokenBalances(usdc, [holder.address, escrowAddress], [-100n * USDC, 100n * USDC]);
      expect(await escrow.balanceOf(holder.address)).to.deep.equal([100n * USDC, 0n, 0n]);
      expect(await usdc.authorizationState(holder.address, auth.nonce)).to.equal(true);
    });

    it("a relayer can submit it and `from` is still the one credited", async function () {
      const { usdc, escrow, escrowAddress, holder, relayer } = await loadFixture(walletFixture);
      const auth = await authorization(holder.address, escrowAddress, 100n * USDC);
      const sig = await signAuthorization(usdc, holder, auth);
      const tx = escrow.connect(relayer).depositWithAuthorization(...args(auth, sig));
      await expect(tx).to.emit(escrow, "Deposited").withArgs(holder.address, holder.address, 100n * USDC);
      await expect(tx).to.changeTokenBalances(
        usdc,
        [holder.address, relayer.address, escrowAddress],
        [-100n * USDC, 0n, 100n * USDC],
      );
      expect(await escrow.balanceOf(holder.address)).to.deep.equal([100n * USDC, 0n, 0n]);
      expect(await escrow.balanceOf(relayer.address)).to.deep.equal([0n, 0n, 0n]);
    });

    it("replaying the same authorization reverts (MockUSDCAuthorizationUsed)", async function () {
      const { usdc, escrow, escrowAddress, holder, relayer } = await loadFixture(walletFixture);
      const auth = await authorization(holder.address, escrowAddress, 100n * USDC);
      const sig = await signAuthorization(usdc, holder, auth);
      await escrow.connect(relayer).depositWithAuthorization(...args(auth, sig));
      await expect(escrow.connect(relayer).depositWithAuthorization(...args(auth, sig)))
        .to.be.revertedWithCustomError(usdc, "MockUSDCAuthorizationUsed")
        .withArgs(holder.address, auth.nonce);
      expect(await escrow.balanceOf(holder.address)).to.deep.equal([100n * USDC, 0n, 0n]);
    });

    it("an authorization made out to a different `to` cannot be used", async function () {
      const { usdc, escrow, owner, treasury, holder, relayer } = await loadFixture(walletFixture);
      // Made out to another escrow over the same token: the signature does not cover this one.
      const other = await ethers.deployContract("UsageEscrow", [usdc, owner.address, treasury.address, FEE_BPS, THAWING_PERIOD]);
      const auth = await authorization(holder.address, await other.getAddress(), 100n * USDC);
      const sig = await signAuthorization(usdc, holder, auth);
      await expect(escrow.connect(relayer).depositWithAuthorization(...args(auth, sig)))
        .to.be.revertedWithCustomError(usdc, "MockUSDCInvalidSigner")
        .withArgs(anyValue, holder.address);
      expect(await usdc.balanceOf(holder.address)).to.equal(1_000n * USDC);
    });

    it("an authorization made out to a stranger cannot be used either", async function () {
      const { usdc, escrow, holder, stranger } = await loadFixture(walletFixture);
      const auth = await authorization(holder.address, stranger.address, 100n * USDC);
      const sig = await signAuthorization(usdc, holder, auth);
      await expect(escrow.connect(stranger).depositWithAuthorization(...args(auth, sig)))
        .to.be.revertedWithCustomError(usdc, "MockUSDCInvalidSigner")
        .withArgs(anyValue, holder.address);
    });

    it("only a ReceiveWithAuthorization is accepted, not a TransferWithAuthorization", async function () {
      const { usdc, escrow, escrowAddress, holder, relayer } = await loadFixture(walletFixture);
      const auth = await authorization(holder.address, escrowAddress, 100n * USDC);
      const sig = await signAuthorization(usdc, holder, auth, "TransferWithAuthorization");
      await expect(escrow.connect(relayer).depositWithAuthorization(...args(auth, sig)))
        .to.be.revertedWithCustomError(usdc, "MockUSDCInvalidSigner")
        .withArgs(anyValue, holder.address);
    });

    it("naming someone else as `from` with one's own signature moves nothing", async function () {
      const { usdc, escrow, escrowAddress, holder, relayer } = await loadFixture(walletFixture);
      const auth = await authorization(holder.address, escrowAddress, 100n * USDC);
      const sig = await signAuthorization(usdc, relayer, auth);
      await expect(escrow.connect(relayer).depositWithAuthorization(...args(auth, sig)))
        .to.be.revertedWithCustomError(usdc, "MockUSDCInvalidSigner")
        .withArgs(relayer.address, holder.address);
    });

    it("a zero `from` reverts with UsageEscrowZeroAddress", async function () {
      const { usdc, escrow, escrowAddress, holder } = await loadFixture(walletFixture);
      const auth = await authorization(holder.address, escrowAddress, 100n * USDC);
      const sig = await signAuthorization(usdc, holder, auth);
      await expect(escrow.depositWithAuthorization(...args({ ...auth, from: ethers.ZeroAddress }, sig)))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAddress")
        .withArgs();
    });

    it("a zero amount reverts with UsageEscrowZeroAmount", async function () {
      const { usdc, escrow, escrowAddress, holder } = await loadFixture(walletFixture);
      const auth = await authorization(holder.address, escrowAddress, 0n);
      const sig = await signAuthorization(usdc, holder, auth);
      await expect(escrow.depositWithAuthorization(...args(auth, sig)))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAmount")
        .withArgs();
    });
  });

  describe("requestWithdrawal", function () {
    it("moves available to thawing and sets thawEndsAt = block timestamp + thawing period", async function () {
      const { escrow, payers } = await loadFixture(depositedFixture);
      const [payerA] = payers;
      const { thawEndsAt } = await thawEndsAtOfNextBlock();
      await expect(escrow.connect(payerA).requestWithdrawal(40n * USDC))
        .to.emit(escrow, "WithdrawalRequested")
        .withArgs(payerA.address, 40n * USDC, thawEndsAt);
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([60n * USDC, 40n * USDC, thawEndsAt]);
    });

    it("adds to what is already thawing and restarts the timer for all of it", async function () {
      const { escrow, payers } = await loadFixture(depositedFixture);
      const [payerA] = payers;
      await escrow.connect(payerA).requestWithdrawal(40n * USDC);
      await time.increase(THAWING_PERIOD / 2n);
      const { thawEndsAt } = await thawEndsAtOfNextBlock();
      await expect(escrow.connect(payerA).requestWithdrawal(10n * USDC))
        .to.emit(escrow, "WithdrawalRequested")
        .withArgs(payerA.address, 50n * USDC, thawEndsAt);
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([50n * USDC, 50n * USDC, thawEndsAt]);
    });

    it("can thaw the whole available balance", async function () {
      const { escrow, payers } = await loadFixture(depositedFixture);
      const [payerA] = payers;
      const { thawEndsAt } = await thawEndsAtOfNextBlock();
      await expect(escrow.connect(payerA).requestWithdrawal(100n * USDC))
        .to.emit(escrow, "WithdrawalRequested")
        .withArgs(payerA.address, 100n * USDC, thawEndsAt);
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([0n, 100n * USDC, thawEndsAt]);
    });

    it("more than available reverts with UsageEscrowInsufficientBalance(available, needed)", async function () {
      const { escrow, payers } = await loadFixture(depositedFixture);
      const [payerA] = payers;
      await expect(escrow.connect(payerA).requestWithdrawal(100n * USDC + 1n))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowInsufficientBalance")
        .withArgs(100n * USDC, 100n * USDC + 1n);
      // What is already thawing does not count as available.
      await escrow.connect(payerA).requestWithdrawal(40n * USDC);
      await expect(escrow.connect(payerA).requestWithdrawal(61n * USDC))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowInsufficientBalance")
        .withArgs(60n * USDC, 61n * USDC);
    });

    it("with no deposit reverts with UsageEscrowInsufficientBalance(0, needed)", async function () {
      const { escrow, stranger } = await loadFixture(depositedFixture);
      await expect(escrow.connect(stranger).requestWithdrawal(1n))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowInsufficientBalance")
        .withArgs(0n, 1n);
    });

    it("zero reverts with UsageEscrowZeroAmount", async function () {
      const { escrow, payers } = await loadFixture(depositedFixture);
      await expect(escrow.connect(payers[0]).requestWithdrawal(0))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAmount")
        .withArgs();
    });
  });

  describe("cancelWithdrawal", function () {
    it("moves everything thawing back to available and clears the timer", async function () {
      const { escrow, payers } = await loadFixture(depositedFixture);
      const [payerA] = payers;
      await escrow.connect(payerA).requestWithdrawal(30n * USDC);
      await escrow.connect(payerA).requestWithdrawal(10n * USDC);
      await expect(escrow.connect(payerA).cancelWithdrawal())
        .to.emit(escrow, "WithdrawalCancelled")
        .withArgs(payerA.address, 40n * USDC);
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([100n * USDC, 0n, 0n]);
    });

    it("with nothing thawing reverts with UsageEscrowNothingThawing", async function () {
      const { escrow, payers } = await loadFixture(depositedFixture);
      await expect(escrow.connect(payers[0]).cancelWithdrawal())
        .to.be.revertedWithCustomError(escrow, "UsageEscrowNothingThawing")
        .withArgs();
    });

    it("acts only on the caller's own thaw: a third party reverts and leaves the payer's thaw alone", async function () {
      const { escrow, payers, stranger } = await loadFixture(depositedFixture);
      const [payerA, payerB] = payers;
      await escrow.connect(payerA).requestWithdrawal(40n * USDC);
      const before = await escrow.balanceOf(payerA.address);
      await expect(escrow.connect(stranger).cancelWithdrawal())
        .to.be.revertedWithCustomError(escrow, "UsageEscrowNothingThawing")
        .withArgs();
      // payerB has a deposit of its own, but nothing thawing.
      await expect(escrow.connect(payerB).cancelWithdrawal())
        .to.be.revertedWithCustomError(escrow, "UsageEscrowNothingThawing")
        .withArgs();
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal(before);
    });

    it("cancelling one payer's thaw leaves another payer's thaw untouched", async function () {
      const { escrow, payers } = await loadFixture(depositedFixture);
      const [payerA, payerB] = payers;
      await escrow.connect(payerA).requestWithdrawal(40n * USDC);
      await escrow.connect(payerB).requestWithdrawal(50n * USDC);
      const payerABefore = await escrow.balanceOf(payerA.address);
      await expect(escrow.connect(payerB).cancelWithdrawal())
        .to.emit(escrow, "WithdrawalCancelled")
        .withArgs(payerB.address, 50n * USDC);
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal(payerABefore);
      expect(await escrow.balanceOf(payerB.address)).to.deep.equal([200n * USDC, 0n, 0n]);
    });
  });

  describe("withdraw", function () {
    async function thawingFixture() {
      const fx = await depositedFixture();
      const [payerA] = fx.payers;
      await fx.escrow.connect(payerA).requestWithdrawal(40n * USDC);
      const [, , thawEndsAt] = await fx.escrow.balanceOf(payerA.address);
      return { ...fx, thawEndsAt };
    }

    it("reverts with UsageEscrowStillThawing(thawEndsAt) one second before thawEndsAt, and works at thawEndsAt", async function () {
      const { usdc, escrow, escrowAddress, payers, thawEndsAt } = await loadFixture(thawingFixture);
      const [payerA] = payers;
      // setNextBlockTimestamp pins the very block the call runs in; increaseTo would leave it one second later.
      await time.setNextBlockTimestamp(thawEndsAt - 1n);
      await expect(escrow.connect(payerA).withdraw(payerA.address))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowStillThawing")
        .withArgs(thawEndsAt);

      await time.setNextBlockTimestamp(thawEndsAt);
      const tx = escrow.connect(payerA).withdraw(payerA.address);
      await expect(tx).to.emit(escrow, "Withdrawn").withArgs(payerA.address, payerA.address, 40n * USDC);
      await expect(tx).to.changeTokenBalances(usdc, [payerA.address, escrowAddress], [40n * USDC, -40n * USDC]);
      expect((await ethers.provider.getBlock("latest"))!.timestamp).to.equal(Number(thawEndsAt));
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([60n * USDC, 0n, 0n]);
    });

    it("works any time after thawEndsAt (time.increaseTo)", async function () {
      const { escrow, payers, thawEndsAt } = await loadFixture(thawingFixture);
      const [payerA] = payers;
      await time.increaseTo(thawEndsAt + 3600n);
      await expect(escrow.connect(payerA).withdraw(payerA.address))
        .to.emit(escrow, "Withdrawn")
        .withArgs(payerA.address, payerA.address, 40n * USDC);
    });

    it("pays to any `to` the payer names: Withdrawn(payer, to, amount)", async function () {
      const { usdc, escrow, escrowAddress, payers, stranger, thawEndsAt } = await loadFixture(thawingFixture);
      const [payerA] = payers;
      await time.increaseTo(thawEndsAt);
      const tx = escrow.connect(payerA).withdraw(stranger.address);
      await expect(tx).to.emit(escrow, "Withdrawn").withArgs(payerA.address, stranger.address, 40n * USDC);
      await expect(tx).to.changeTokenBalances(
        usdc,
        [payerA.address, stranger.address, escrowAddress],
        [0n, 40n * USDC, -40n * USDC],
      );
    });

    it("a restarted timer counts: the old thawEndsAt no longer suffices", async function () {
      const { escrow, payers, thawEndsAt } = await loadFixture(thawingFixture);
      const [payerA] = payers;
      await time.increaseTo(thawEndsAt - 100n);
      const next = await thawEndsAtOfNextBlock();
      await escrow.connect(payerA).requestWithdrawal(USDC);
      await time.setNextBlockTimestamp(thawEndsAt);
      await expect(escrow.connect(payerA).withdraw(payerA.address))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowStillThawing")
        .withArgs(next.thawEndsAt);
      await time.setNextBlockTimestamp(next.thawEndsAt);
      await expect(escrow.connect(payerA).withdraw(payerA.address))
        .to.emit(escrow, "Withdrawn")
        .withArgs(payerA.address, payerA.address, 41n * USDC);
    });

    it("a zero `to` reverts with UsageEscrowZeroAddress", async function () {
      const { escrow, payers, thawEndsAt } = await loadFixture(thawingFixture);
      await time.increaseTo(thawEndsAt);
      await expect(escrow.connect(payers[0]).withdraw(ethers.ZeroAddress))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAddress")
        .withArgs();
    });

    it("with nothing thawing reverts with UsageEscrowNothingThawing", async function () {
      const { escrow, payers } = await loadFixture(depositedFixture);
      const [payerA] = payers;
      await expect(escrow.connect(payerA).withdraw(payerA.address))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowNothingThawing")
        .withArgs();
    });

    it("withdrawing twice pays once", async function () {
      const { usdc, escrow, escrowAddress, payers, thawEndsAt } = await loadFixture(thawingFixture);
      const [payerA] = payers;
      await time.increaseTo(thawEndsAt);
      await escrow.connect(payerA).withdraw(payerA.address);
      const escrowHolding = await usdc.balanceOf(escrowAddress);
      await expect(escrow.connect(payerA).withdraw(payerA.address))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowNothingThawing")
        .withArgs();
      expect(await usdc.balanceOf(escrowAddress)).to.equal(escrowHolding);
      expect(await usdc.balanceOf(payerA.address)).to.equal(900n * USDC + 40n * USDC);
    });

    it("a third party cannot withdraw someone else's thaw: it acts on its own empty balance and reverts", async function () {
      const { usdc, escrow, escrowAddress, payers, stranger, thawEndsAt } = await loadFixture(thawingFixture);
      const [payerA, payerB] = payers;
      await time.increaseTo(thawEndsAt);
      for (const thief of [stranger, payerB]) {
        await expect(escrow.connect(thief).withdraw(thief.address))
          .to.be.revertedWithCustomError(escrow, "UsageEscrowNothingThawing")
          .withArgs();
      }
      expect(await escrow.balanceOf(payerA.address)).to.deep.equal([60n * USDC, 40n * USDC, thawEndsAt]);
      expect(await usdc.balanceOf(escrowAddress)).to.equal(300n * USDC);
      await expect(escrow.connect(payerA).withdraw(payerA.address))
        .to.emit(escrow, "Withdrawn")
        .withArgs(payerA.address, payerA.address, 40n * USDC);
    });
  });

  describe("claim", function () {
    it("a provider claims its earnings to any address: Claimed(payee, to, amount)", async function () {
      const { usdc, escrow, escrowAddress, providers, stranger } = await loadFixture(settledFixture);
      const [providerA] = providers;
      const { providerShare } = splitOf(10n * USDC);
      expect(await escrow.earningsOf(providerA.address)).to.equal(providerShare);
      const tx = escrow.connect(providerA).claim(stranger.address);
      await expect(tx).to.emit(escrow, "Claimed").withArgs(providerA.address, stranger.address, providerShare);
      await expect(tx).to.changeTokenBalances(
        usdc,
        [providerA.address, stranger.address, escrowAddress],
        [0n, providerShare, -providerShare],
      );
      expect(await escrow.earningsOf(providerA.address)).to.equal(0n);
    });

    it("claim returns the amount it paid", async function () {
      const { escrow, providers } = await loadFixture(settledFixture);
      const [providerA] = providers;
      expect(await escrow.connect(providerA).claim.staticCall(providerA.address)).to.equal(splitOf(10n * USDC).providerShare);
    });

    it("the treasury claims its fee the same way", async function () {
      const { usdc, escrow, escrowAddress, treasury } = await loadFixture(settledFixture);
      const { fee } = splitOf(10n * USDC);
      expect(await escrow.earningsOf(treasury.address)).to.equal(fee);
      const tx = escrow.connect(treasury).claim(treasury.address);
      await expect(tx).to.emit(escrow, "Claimed").withArgs(treasury.address, treasury.address, fee);
      await expect(tx).to.changeTokenBalances(usdc, [treasury.address, escrowAddress], [fee, -fee]);
      expect(await escrow.earningsOf(treasury.address)).to.equal(0n);
    });

    it("claiming twice pays once: the second claim reverts with UsageEscrowZeroAmount", async function () {
      const { usdc, escrow, escrowAddress, providers } = await loadFixture(settledFixture);
      const [providerA] = providers;
      await escrow.connect(providerA).claim(providerA.address);
      await expect(escrow.connect(providerA).claim(providerA.address))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAmount")
        .withArgs();
      expect(await usdc.balanceOf(providerA.address)).to.equal(splitOf(10n * USDC).providerShare);
      // What is left is exactly the deposits plus the unclaimed fee.
      expect(await usdc.balanceOf(escrowAddress)).to.equal(290n * USDC + splitOf(10n * USDC).fee);
    });

    it("later earnings are claimable after an earlier claim", async function () {
      const fx = await loadFixture(settledFixture);
      const { escrow, payers, providers } = fx;
      const [payerA] = payers;
      const [providerA] = providers;
      await escrow.connect(providerA).claim(providerA.address);
      await settleVoucher(fx, payerA.address, providerA.address, 15n * USDC);
      await expect(escrow.connect(providerA).claim(providerA.address))
        .to.emit(escrow, "Claimed")
        .withArgs(providerA.address, providerA.address, splitOf(5n * USDC).providerShare);
    });

    it("with nothing to claim reverts with UsageEscrowZeroAmount", async function () {
      const { escrow, providers, payers, stranger } = await loadFixture(settledFixture);
      // A payer's deposit is not earnings: payerB cannot claim its own deposit through claim.
      for (const nobody of [providers[1], payers[1], stranger]) {
        await expect(escrow.connect(nobody).claim(nobody.address))
          .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAmount")
          .withArgs();
      }
    });

    it("a zero `to` reverts with UsageEscrowZeroAddress", async function () {
      const { escrow, providers } = await loadFixture(settledFixture);
      await expect(escrow.connect(providers[0]).claim(ethers.ZeroAddress))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAddress")
        .withArgs();
      expect(await escrow.earningsOf(providers[0].address)).to.equal(splitOf(10n * USDC).providerShare);
    });
  });

  describe("administration", function () {
    describe("authorizeSigner", function () {
      it("authorises a signer: SignerAuthorized(signer)", async function () {
        const { escrow, owner, stranger } = await loadFixture(deployEscrowFixture);
        await expect(escrow.connect(owner).authorizeSigner(stranger.address))
          .to.emit(escrow, "SignerAuthorized")
          .withArgs(stranger.address);
        expect(await escrow.isSigner(stranger.address)).to.equal(true);
      });

      it("is onlyOwner: OwnableUnauthorizedAccount(caller), a signer included", async function () {
        const { escrow, signer, stranger } = await loadFixture(deployEscrowFixture);
        for (const caller of [stranger, signer]) {
          await expect(escrow.connect(caller).authorizeSigner(caller.address))
            .to.be.revertedWithCustomError(escrow, "OwnableUnauthorizedAccount")
            .withArgs(caller.address);
        }
        expect(await escrow.isSigner(stranger.address)).to.equal(false);
      });

      it("the zero address reverts with UsageEscrowZeroAddress", async function () {
        const { escrow, owner } = await loadFixture(deployEscrowFixture);
        await expect(escrow.connect(owner).authorizeSigner(ethers.ZeroAddress))
          .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAddress")
          .withArgs();
      });

      it("authorising twice reverts with UsageEscrowSignerAlreadyAuthorized(signer)", async function () {
        const { escrow, owner, signer } = await loadFixture(deployEscrowFixture);
        await expect(escrow.connect(owner).authorizeSigner(signer.address))
          .to.be.revertedWithCustomError(escrow, "UsageEscrowSignerAlreadyAuthorized")
          .withArgs(signer.address);
      });
    });

    describe("revokeSigner", function () {
      it("revokes a signer: SignerRevoked(signer)", async function () {
        const { escrow, owner, signer } = await loadFixture(deployEscrowFixture);
        await expect(escrow.connect(owner).revokeSigner(signer.address))
          .to.emit(escrow, "SignerRevoked")
          .withArgs(signer.address);
        expect(await escrow.isSigner(signer.address)).to.equal(false);
      });

      it("a revoked signer can be authorised again", async function () {
        const { escrow, owner, signer } = await loadFixture(deployEscrowFixture);
        await escrow.connect(owner).revokeSigner(signer.address);
        await expect(escrow.connect(owner).authorizeSigner(signer.address))
          .to.emit(escrow, "SignerAuthorized")
          .withArgs(signer.address);
      });

      it("is onlyOwner: OwnableUnauthorizedAccount(caller), the signer itself included", async function () {
        const { escrow, signer, stranger } = await loadFixture(deployEscrowFixture);
        for (const caller of [stranger, signer]) {
          await expect(escrow.connect(caller).revokeSigner(signer.address))
            .to.be.revertedWithCustomError(escrow, "OwnableUnauthorizedAccount")
            .withArgs(caller.address);
        }
        expect(await escrow.isSigner(signer.address)).to.equal(true);
      });

      it("revoking a non-signer reverts with UsageEscrowSignerNotAuthorized(signer)", async function () {
        const { escrow, owner, stranger } = await loadFixture(deployEscrowFixture);
        await expect(escrow.connect(owner).revokeSigner(stranger.address))
          .to.be.revertedWithCustomError(escrow, "UsageEscrowSignerNotAuthorized")
          .withArgs(stranger.address);
        await expect(escrow.connect(owner).revokeSigner(ethers.ZeroAddress))
          .to.be.revertedWithCustomError(escrow, "UsageEscrowSignerNotAuthorized")
          .withArgs(ethers.ZeroAddress);
      });

      it("revoking twice reverts with UsageEscrowSignerNotAuthorized(signer)", async function () {
        const { escrow, owner, signer } = await loadFixture(deployEscrowFixture);
        await escrow.connect(owner).revokeSigner(signer.address);
        await expect(escrow.connect(owner).revokeSigner(signer.address))
          .to.be.revertedWithCustomError(escrow, "UsageEscrowSignerNotAuthorized")
          .withArgs(signer.address);
      });
    });

    describe("setTreasury", function () {
      it("sets the treasury: TreasuryChanged(previous, new)", async function () {
        const { escrow, owner, treasury, stranger } = await loadFixture(deployEscrowFixture);
        await expect(escrow.connect(owner).setTreasury(stranger.address))
          .to.emit(escrow, "TreasuryChanged")
          .withArgs(treasury.address, stranger.address);
        expect(await escrow.treasury()).to.equal(stranger.address);
      });

      it("is onlyOwner: OwnableUnauthorizedAccount(caller), the treasury itself included", async function () {
        const { escrow, treasury, stranger } = await loadFixture(deployEscrowFixture);
        for (const caller of [stranger, treasury]) {
          await expect(escrow.connect(caller).setTreasury(caller.address))
            .to.be.revertedWithCustomError(escrow, "OwnableUnauthorizedAccount")
            .withArgs(caller.address);
        }
        expect(await escrow.treasury()).to.equal(treasury.address);
      });

      it("the zero address reverts with UsageEscrowZeroAddress", async function () {
        const { escrow, owner } = await loadFixture(deployEscrowFixture);
        await expect(escrow.connect(owner).setTreasury(ethers.ZeroAddress))
          .to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAddress")
          .withArgs();
      });

      it("fees already accrued stay with the old treasury; later fees accrue to the new one", async function () {
        const fx = await loadFixture(settledFixture);
        const { usdc, escrow, owner, treasury, stranger, payers, providers } = fx;
        const [payerA] = payers;
        const [providerA] = providers;
        const newTreasury = stranger;
        const oldFee = splitOf(10n * USDC).fee;
        await escrow.connect(owner).setTreasury(newTreasury.address);
        expect(await escrow.earningsOf(treasury.address)).to.equal(oldFee);
        expect(await escrow.earningsOf(newTreasury.address)).to.equal(0n);

        await settleVoucher(fx, payerA.address, providerA.address, 30n * USDC);
        const newFee = splitOf(20n * USDC).fee;
        expect(await escrow.earningsOf(treasury.address)).to.equal(oldFee);
        expect(await escrow.earningsOf(newTreasury.address)).to.equal(newFee);

        await expect(escrow.connect(treasury).claim(treasury.address))
          .to.emit(escrow, "Claimed")
          .withArgs(treasury.address, treasury.address, oldFee);
        await expect(escrow.connect(newTreasury).claim(newTreasury.address))
          .to.emit(escrow, "Claimed")
          .withArgs(newTreasury.address, newTreasury.address, newFee);
        expect(await usdc.balanceOf(treasury.address)).to.equal(oldFee);
        expect(await usdc.balanceOf(newTreasury.address)).to.equal(newFee);
      });
    });

    describe("ownership", function () {
      it("Ownable2Step: the new owner takes over only when it accepts", async function () {
        const { escrow, owner, stranger, payers } = await loadFixture(deployEscrowFixture);
        const newOwner = payers[2];
        await expect(escrow.connect(owner).transferOwnership(newOwner.address))
          .to.emit(escrow, "OwnershipTransferStarted")
          .withArgs(owner.address, newOwner.address);
        expect(await escrow.owner()).to.equal(owner.address);
        expect(await escrow.pendingOwner()).to.equal(newOwner.address);

        // Pending is not owner yet, and only the pending owner may accept.
        await expect(escrow.connect(newOwner).authorizeSigner(stranger.address))
          .to.be.revertedWithCustomError(escrow, "OwnableUnauthorizedAccount")
          .withArgs(newOwner.address);
        await expect(escrow.connect(stranger).acceptOwnership())
          .to.be.revertedWithCustomError(escrow, "OwnableUnauthorizedAccount")
          .withArgs(stranger.address);

        await expect(escrow.connect(newOwner).acceptOwnership())
          .to.emit(escrow, "OwnershipTransferred")
          .withArgs(owner.address, newOwner.address);
        expect(await escrow.owner()).to.equal(newOwner.address);
        expect(await escrow.pendingOwner()).to.equal(ethers.ZeroAddress);

        await expect(escrow.connect(owner).authorizeSigner(stranger.address))
          .to.be.revertedWithCustomError(escrow, "OwnableUnauthorizedAccount")
          .withArgs(owner.address);
        await expect(escrow.connect(newOwner).authorizeSigner(stranger.address))
          .to.emit(escrow, "SignerAuthorized")
          .withArgs(stranger.address);
      });

      it("transferOwnership is onlyOwner", async function () {
        const { escrow, stranger } = await loadFixture(deployEscrowFixture);
        await expect(escrow.connect(stranger).transferOwnership(stranger.address))
          .to.be.revertedWithCustomError(escrow, "OwnableUnauthorizedAccount")
          .withArgs(stranger.address);
      });

      it("renounceOwnership reverts with UsageEscrowRenounceOwnershipDisabled, and the owner stays", async function () {
        const { escrow, escrowAddress, owner } = await loadFixture(deployEscrowFixture);
        const data = escrow.interface.encodeFunctionData("renounceOwnership");
        // Sent as a real transaction: the function is declared view, so a typed call would only eth_call it.
        await expect(owner.sendTransaction({ to: escrowAddress, data }))
          .to.be.revertedWithCustomError(escrow, "UsageEscrowRenounceOwnershipDisabled")
          .withArgs();
        await expect(escrow.connect(owner).renounceOwnership())
          .to.be.revertedWithCustomError(escrow, "UsageEscrowRenounceOwnershipDisabled")
          .withArgs();
        expect(await escrow.owner()).to.equal(owner.address);
      });

      it("renounceOwnership by anyone else reverts with OwnableUnauthorizedAccount(caller)", async function () {
        const { escrow, escrowAddress, stranger } = await loadFixture(deployEscrowFixture);
        const data = escrow.interface.encodeFunctionData("renounceOwnership");
        await expect(stranger.sendTransaction({ to: escrowAddress, data }))
          .to.be.revertedWithCustomError(escrow, "OwnableUnauthorizedAccount")
          .withArgs(stranger.address);
      });
    });
  });

  describe("the owner tries every function to move funds", function () {
    /** Deposits (payerB partly thawing, past its thawing period), earnings for providerA and the treasury. */
    async function fundedFixture() {
      const fx = await settledFixture();
      await fx.escrow.connect(fx.payers[1]).requestWithdrawal(50n * USDC);
      await time.increase(THAWING_PERIOD);
      return fx;
    }

    async function ledger(escrow: UsageEscrow, fx: EscrowFixture) {
      const accounts = [
        fx.owner.address,
        fx.treasury.address,
        fx.signer.address,
        ...fx.payers.map((p) => p.address),
        ...fx.providers.map((p) => p.address),
        fx.escrowAddress,
      ];
      return Promise.all(
        accounts.map(async (account) => {
          const [available, thawing, thawEndsAt] = await escrow.balanceOf(account);
          const earnings = await escrow.earningsOf(account);
          const settled = await Promise.all(fx.payers.map((p) => escrow.settledAmount(p.address, account)));
          return { account, tokens: await fx.usdc.balanceOf(account), available, thawing, thawEndsAt, earnings, settled };
        }),
      );
    }

    it("the owner can move nothing: withdraw, claim, cancelWithdrawal, requestWithdrawal and self-signed settle all revert", async function () {
      const fx = await loadFixture(fundedFixture);
      const { escrow, owner, payers } = fx;
      const [payerA, payerB] = payers;
      const asOwner = escrow.connect(owner);
      const before = await ledger(escrow, fx);

      for (const to of [owner.address, payerB.address]) {
        await expect(asOwner.withdraw(to)).to.be.revertedWithCustomError(escrow, "UsageEscrowNothingThawing").withArgs();
        await expect(asOwner.claim(to)).to.be.revertedWithCustomError(escrow, "UsageEscrowZeroAmount").withArgs();
      }
      await expect(asOwner.cancelWithdrawal()).to.be.revertedWithCustomError(escrow, "UsageEscrowNothingThawing").withArgs();
      await expect(asOwner.requestWithdrawal(50n * USDC))
        .to.be.revertedWithCustomError(escrow, "UsageEscrowInsufficientBalance")
        .withArgs(0n, 50n * USDC);

      // The owner is not a signer: a voucher it signs itself, paying itself, is refused.
      for (const payer of [payerA, payerB]) {
        const voucher: Voucher = {
          payer: payer.address,
          provider: owner.address,
          cumulativeAmount: 200n * USDC,
          usageRoot: USAGE_ROOT,
        };
        await expect(asOwner.settle([voucher], [await fx.sign(voucher, owner)]))
          .to.be.revertedWithCustomError(escrow, "UsageEscrowInvalidSigner")
          .withArgs(owner.address);
      }

      expect(await ledger(escrow, fx)).to.deep.equal(before);
    });

    it("the admin functions move nothing either, and the payers and payees still get their money", async function () {
      const fx = await loadFixture(fundedFixture);
      const { usdc, escrow, owner, treasury, stranger, signer, payers, providers } = fx;
      const [, payerB] = payers;
      const [providerA] = providers;
      const before = await ledger(escrow, fx);
      await escrow.connect(owner).revokeSigner(signer.address);
      await escrow.connect(owner).setTreasury(stranger.address);
      await escrow.connect(owner).transferOwnership(stranger.address);
      expect(await ledger(escrow, fx)).to.deep.equal(before);

      await expect(escrow.connect(payerB).withdraw(payerB.address))
        .to.emit(escrow, "Withdrawn")
        .withArgs(payerB.address, payerB.address, 50n * USDC);
      await expect(escrow.connect(providerA).claim(providerA.address))
        .to.emit(escrow, "Claimed")
        .withArgs(providerA.address, providerA.address, splitOf(10n * USDC).providerShare);
      await expect(escrow.connect(treasury).claim(treasury.address))
        .to.emit(escrow, "Claimed")
        .withArgs(treasury.address, treasury.address, splitOf(10n * USDC).fee);
      expect(await usdc.balanceOf(owner.address)).to.equal(0n);
    });

    it("the escrow has no state-changing function beyond the documented ones (no sweep, no rescue)", async function () {
      const { escrow } = await loadFixture(deployEscrowFixture);
      const writers = escrow.interface.fragments
        .filter((f): f is FunctionFragment => f.type === "function")
        .filter((f) => f.stateMutability !== "view" && f.stateMutability !== "pure")
        .map((f) => f.name)
        .sort();
      expect(writers).to.deep.equal(
        [
          "acceptOwnership",
          "authorizeSigner",
          "cancelWithdrawal",
          "claim",
          "deposit",
          "depositFor",
          "depositWithAuthorization",
          "depositWithPermit",
          "requestWithdrawal",
          "revokeSigner",
          "setTreasury",
          "settle",
          "transferOwnership",
          "withdraw",
        ].sort(),
      );
    });
  });

  describe("reentrancy", function () {
    const REENTRY_DEPOSIT = 10n * USDC;
    const THAWED = 30n * USDC;
    const TOKEN_THAWED = 50n * USDC;

    /**
     * An escrow over ReentrantToken. The token contract itself is an escrow user with a thawed
     * deposit, claimable earnings, tokens and an allowance, so each reentrant call it makes would
     * move real money if the escrow let it through. payerA has a thawed withdrawal, providerA
     * earnings, and payerB a deposit with an unsettled voucher: the three outer operations.
     */
    async function reentrantFixture() {
      const fx = await deployEscrowFixture();
      const { owner, treasury, signer, stranger } = fx;
      const [payerA, payerB] = fx.payers;
      const [providerA] = fx.providers;
      const token = await ethers.deployContract("ReentrantToken");
      const escrow = await ethers.deployContract("UsageEscrow", [token, owner.address, treasury.address, FEE_BPS, THAWING_PERIOD]);
      await escrow.connect(owner).authorizeSigner(signer.address);
      const [tokenAddress, escrowAddress] = [await token.getAddress(), await escrow.getAddress()];
      const domain = escrowDomain(BigInt(network.config.chainId ?? 31337), escrowAddress);
      const sign = (voucher: Voucher) => signVoucher(signer, domain, voucher);
      const settle = async (voucher: Voucher) => escrow.settle([voucher], [await sign(voucher)]);

      for (const payer of [payerA, payerB]) {
        await token.mint(payer.address, 1_000n * USDC);
        await token.connect(payer).approve(escrowAddress, ethers.MaxUint256);
        await escrow.connect(payer).deposit(100n * USDC);
      }
      await token.mint(tokenAddress, 100n * USDC);
      await callFromToken(token, tokenAddress, token.interface.encodeFunctionData("approve", [escrowAddress, ethers.MaxUint256]), stranger);
      await escrow.connect(payerB).depositFor(tokenAddress, TOKEN_THAWED);
      await callFromToken(token, escrowAddress, escrow.interface.encodeFunctionData("requestWithdrawal", [TOKEN_THAWED]), stranger);
      const mkVoucher = (payer: string, provider: string, cumulativeAmount: bigint): Voucher => ({
        payer,
        provider,
        cumulativeAmount,
        usageRoot: USAGE_ROOT,
      });
      await settle(mkVoucher(payerA.address, tokenAddress, 20n * USDC));
      await settle(mkVoucher(payerA.address, providerA.address, 10n * USDC));
      await escrow.connect(payerA).requestWithdrawal(THAWED);
      await time.increase(THAWING_PERIOD);

      // Valid and unsettled: outside a transfer, anyone could settle it.
      const pendingVoucher = mkVoucher(payerB.address, providerA.address, 5n * USDC);
      const pendingSignature = await sign(pendingVoucher);
      return {
        token,
        escrow,
        tokenAddress,
        escrowAddress,
        payerA,
        payerB,
        providerA,
        treasury,
        stranger,
        pendingVoucher,
        pendingSignature,
      };
    }

    type ReentrantFixture = Awaited<ReturnType<typeof reentrantFixture>>;

    const reentrantCalls: { name: string; data: (fx: ReentrantFixture) => string }[] = [
      { name: "withdraw", data: (fx) => fx.escrow.interface.encodeFunctionData("withdraw", [fx.tokenAddress]) },
      { name: "claim", data: (fx) => fx.escrow.interface.encodeFunctionData("claim", [fx.tokenAddress]) },
      { name: "deposit", data: (fx) => fx.escrow.interface.encodeFunctionData("deposit", [USDC]) },
      {
        name: "settle",
        data: (fx) => fx.escrow.interface.encodeFunctionData("settle", [[fx.pendingVoucher], [fx.pendingSignature]]),
      },
    ];

    const outerCalls: {
      name: string;
      send: (fx: ReentrantFixture) => Promise<unknown>;
      moves: (fx: ReentrantFixture) => [string, bigint][];
    }[] = [
      {
        name: "deposit's transferFrom",
        send: (fx) => fx.escrow.connect(fx.payerB).deposit(REENTRY_DEPOSIT),
        moves: (fx) => [
          [fx.payerB.address, -REENTRY_DEPOSIT],
          [fx.escrowAddress, REENTRY_DEPOSIT],
        ],
      },
      {
        name: "withdraw's transfer",
        send: (fx) => fx.escrow.connect(fx.payerA).withdraw(fx.payerA.address),
        moves: (fx) => [
          [fx.payerA.address, THAWED],
          [fx.escrowAddress, -THAWED],
        ],
      },
      {
        name: "claim's transfer",
        send: (fx) => fx.escrow.connect(fx.providerA).claim(fx.providerA.address),
        moves: (fx) => [
          [fx.providerA.address, splitOf(10n * USDC).providerShare],
          [fx.escrowAddress, -splitOf(10n * USDC).providerShare],
        ],
      },
    ];

    /** Everything the token (the attacker) and the pending voucher's pair hold, in tokens and in the escrow. */
    async function attackerState(fx: ReentrantFixture) {
      const { token, escrow, tokenAddress, payerB, providerA } = fx;
      return {
        tokens: await token.balanceOf(tokenAddress),
        balance: await escrow.balanceOf(tokenAddress),
        earnings: await escrow.earningsOf(tokenAddress),
        pendingSettled: await escrow.settledAmount(payerB.address, providerA.address),
      };
    }

    /** The escrow holds exactly what it owes: every available and thawing balance plus every unclaimed earning. */
    async function expectSolvent(fx: ReentrantFixture) {
      const { token, escrow, escrowAddress, tokenAddress, payerA, payerB, providerA, treasury } = fx;
      let owed = 0n;
      for (const payer of [payerA.address, payerB.address, tokenAddress]) {
        const [available, thawing] = await escrow.balanceOf(payer);
        owed += available + thawing;
      }
      for (const payee of [providerA.address, tokenAddress, treasury.address]) owed += await escrow.earningsOf(payee);
      expect(await token.balanceOf(escrowAddress)).to.equal(owed);
    }

    for (const outer of outerCalls) {
      for (const reentrant of reentrantCalls) {
        it(`a callback into ${reentrant.name} during ${outer.name} is refused with ReentrancyGuardReentrantCall and moves nothing`, async function () {
          const fx = await loadFixture(reentrantFixture);
          const { token, escrow, escrowAddress } = fx;
          const refusal = escrow.interface.getError("ReentrancyGuardReentrantCall")!.selector;
          const before = await attackerState(fx);
          await expectSolvent(fx);

          await token.setReentry(escrowAddress, reentrant.data(fx));
          const tx = outer.send(fx);
          await expect(tx).to.emit(token, "ReentryAttempted").withArgs(escrowAddress, false, refusal);
          const [accounts, deltas] = [outer.moves(fx).map(([a]) => a), outer.moves(fx).map(([, d]) => d)];
          await expect(tx).to.changeTokenBalances(token, accounts, deltas);

          expect(await token.lastReentrySucceeded()).to.equal(false);
          expect(await token.lastReentryRevertData()).to.equal(refusal);
          expect(await attackerState(fx)).to.deep.equal(before);
          await expectSolvent(fx);
        });
      }
    }

    it("outside a transfer the same calls succeed, so the refusals above are the guard's doing", async function () {
      const fx = await loadFixture(reentrantFixture);
      const { token, escrow, escrowAddress, tokenAddress, stranger, pendingVoucher, pendingSignature } = fx;
      const call = async (data: string) => callFromToken(token, escrowAddress, data, stranger);
      const tokenEarnings = splitOf(20n * USDC).providerShare;

      await call(escrow.interface.encodeFunctionData("withdraw", [tokenAddress]));
      await call(escrow.interface.encodeFunctionData("claim", [tokenAddress]));
      await call(escrow.interface.encodeFunctionData("deposit", [USDC]));
      await call(escrow.interface.encodeFunctionData("settle", [[pendingVoucher], [pendingSignature]]));

      expect(await token.balanceOf(tokenAddress)).to.equal(100n * USDC + TOKEN_THAWED + tokenEarnings - USDC);
      expect(await escrow.balanceOf(tokenAddress)).to.deep.equal([USDC, 0n, 0n]);
      expect(await escrow.earningsOf(tokenAddress)).to.equal(0n);
      expect(await escrow.settledAmount(fx.payerB.address, fx.providerA.address)).to.equal(5n * USDC);
      await expectSolvent(fx);
    });
  });
});
