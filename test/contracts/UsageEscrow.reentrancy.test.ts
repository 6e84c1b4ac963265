import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { FEE_BPS, splitOf, THAWING_PERIOD, USDC } from "./helpers/escrowFixture";
import { callFromToken } from "./helpers/payerActions";
import { escrowDomain, signVoucher, type Voucher } from "../../server/chain/voucher";

// Every guarded function of UsageEscrow, called back by an adversarial token from inside a token
// transfer the escrow makes, must be refused by ReentrancyGuardTransient and move nothing. The
// payer tests cover withdraw, claim, deposit and settle as reentrant calls; this file covers every
// guarded function as the INNER call, so each one's guard revert branch runs.

const USAGE_ROOT = ethers.id("reentrancy receipts");

const OUTER_DEPOSIT = 10n * USDC;
/** payerA's matured withdrawal: what the outer withdraw pays out. */
const PAYER_THAWED = 30n * USDC;
/** What payerB deposits for the token, of which the token then puts TOKEN_THAWED into a withdrawal. */
const TOKEN_DEPOSIT = 50n * USDC;
const TOKEN_THAWED = 30n * USDC;
const TOKEN_AVAILABLE = TOKEN_DEPOSIT - TOKEN_THAWED;
const TOKEN_OWN_TOKENS = 100n * USDC;
/** payerA's payments, settled in the fixture. */
const PAID_TO_TOKEN = 20n * USDC;
const PAID_TO_PROVIDER = 10n * USDC;
/** What each reentrant deposit or withdrawal request asks for. */
const INNER_AMOUNT = 5n * USDC;
const PENDING_AMOUNT = 5n * USDC;

/**
 * An escrow over ReentrantToken. The token contract is the attacker and a full escrow user: it holds
 * tokens with an unlimited allowance to the escrow, an available balance, a matured withdrawal and
 * claimable earnings, so any reentrant call it makes would change real state if the escrow let it
 * through. payerA has a matured withdrawal, providerA earnings, payerB tokens to deposit and an
 * unsettled voucher to providerA: the outer operations and the reentrant settle's target.
 */
async function reentrancyFixture() {
  const [owner, treasury, signer, payerA, payerB, providerA, stranger, beneficiary] = await ethers.getSigners();
  const token = await ethers.deployContract("ReentrantToken");
  const escrow = await ethers.deployContract("UsageEscrow", [
    token,
    owner.address,
    treasury.address,
    FEE_BPS,
    THAWING_PERIOD,
  ]);
  await escrow.connect(owner).authorizeSigner(signer.address);
  const [tokenAddress, escrowAddress] = [await token.getAddress(), await escrow.getAddress()];
  const domain = escrowDomain(BigInt(network.config.chainId ?? 31337), escrowAddress);
  const voucherOf = (payer: string, provider: string, cumulativeAmount: bigint): Voucher => ({
    payer,
    provider,
    cumulativeAmount,
    usageRoot: USAGE_ROOT,
  });
  const sign = (voucher: Voucher) => signVoucher(signer, domain, voucher);
  const settle = async (voucher: Voucher) => escrow.settle([voucher], [await sign(voucher)]);
  const fromToken = (data: string) => callFromToken(token, escrowAddress, data, stranger);

  for (const payer of [payerA, payerB]) {
    await token.mint(payer.address, 1_000n * USDC);
    await token.connect(payer).approve(escrowAddress, ethers.MaxUint256);
    await escrow.connect(payer).deposit(100n * USDC);
  }
  await token.mint(tokenAddress, TOKEN_OWN_TOKENS);
  await callFromToken(
    token,
    tokenAddress,
    token.interface.encodeFunctionData("approve", [escrowAddress, ethers.MaxUint256]),
    stranger,
  );
  await escrow.connect(payerB).depositFor(tokenAddress, TOKEN_DEPOSIT);
  await fromToken(escrow.interface.encodeFunctionData("requestWithdrawal", [TOKEN_THAWED]));
  await settle(voucherOf(payerA.address, tokenAddress, PAID_TO_TOKEN));
  await settle(voucherOf(payerA.address, providerA.address, PAID_TO_PROVIDER));
  await escrow.connect(payerA).requestWithdrawal(PAYER_THAWED);
  await time.increase(THAWING_PERIOD);

  // Valid and unsettled: outside a transfer, anyone could settle it.
  const pendingVoucher = voucherOf(payerB.address, providerA.address, PENDING_AMOUNT);
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
    beneficiary,
    pendingVoucher,
    pendingSignature,
  };
}

type Fixture = Awaited<ReturnType<typeof reentrancyFixture>>;
type State = Record<string, bigint>;

/**
 * Everything any guarded call could change, keyed by a readable name: token balances of every
 * party (escrow and attacker included), each payer's escrow balance and thaw timer, earnings, and
 * the settled amount of every pair.
 */
async function stateOf(fx: Fixture): Promise<State> {
  const { token, escrow, tokenAddress, escrowAddress, payerA, payerB, providerA, treasury, stranger, beneficiary } = fx;
  const parties: Record<string, string> = {
    payerA: payerA.address,
    payerB: payerB.address,
    providerA: providerA.address,
    treasury: treasury.address,
    stranger: stranger.address,
    beneficiary: beneficiary.address,
    attacker: tokenAddress,
    escrow: escrowAddress,
  };
  const state: State = {};
  for (const [name, address] of Object.entries(parties)) {
    state[`tokens.${name}`] = await token.balanceOf(address);
    const [available, thawing, thawEndsAt] = await escrow.balanceOf(address);
    state[`available.${name}`] = available;
    state[`thawing.${name}`] = thawing;
    state[`thawEndsAt.${name}`] = thawEndsAt;
    state[`earnings.${name}`] = await escrow.earningsOf(address);
  }
  state["settled.payerA>attacker"] = await escrow.settledAmount(payerA.address, tokenAddress);
  state["settled.payerA>providerA"] = await escrow.settledAmount(payerA.address, providerA.address);
  state["settled.payerB>providerA"] = await escrow.settledAmount(payerB.address, providerA.address);
  return state;
}

function applied(state: State, changes: Record<string, bigint>): State {
  const next = { ...state };
  for (const [key, value] of Object.entries(changes)) {
    expect(next, `unknown state key ${key}`).to.have.property(key);
    next[key] = value;
  }
  return next;
}

/** The escrow holds exactly what it owes: every available and thawing balance plus every unclaimed earning. */
function expectSolvent(state: State) {
  let owed = 0n;
  for (const [key, value] of Object.entries(state)) {
    if (key.startsWith("available.") || key.startsWith("thawing.") || key.startsWith("earnings.")) owed += value;
  }
  expect(state["tokens.escrow"]).to.equal(owed);
}

/** The nine guarded functions, each as the call the token makes back into the escrow. */
const reentrantCalls: { name: string; data: (fx: Fixture) => string }[] = [
  {
    name: "depositFor",
    data: (fx) => fx.escrow.interface.encodeFunctionData("depositFor", [fx.beneficiary.address, INNER_AMOUNT]),
  },
  {
    name: "depositWithPermit",
    // ReentrantToken has no permit; the escrow ignores a failed permit and would pull on the
    // allowance the token already gave, so outside a transfer this call deposits.
    data: (fx) =>
      fx.escrow.interface.encodeFunctionData("depositWithPermit", [
        INNER_AMOUNT,
        ethers.MaxUint256,
        27,
        ethers.ZeroHash,
        ethers.ZeroHash,
      ]),
  },
  {
    name: "depositWithAuthorization",
    data: (fx) =>
      fx.escrow.interface.encodeFunctionData("depositWithAuthorization", [
        fx.tokenAddress,
        INNER_AMOUNT,
        0n,
        ethers.MaxUint256,
        ethers.id("authorization nonce"),
        27,
        ethers.ZeroHash,
        ethers.ZeroHash,
      ]),
  },
  {
    name: "requestWithdrawal",
    data: (fx) => fx.escrow.interface.encodeFunctionData("requestWithdrawal", [INNER_AMOUNT]),
  },
  { name: "cancelWithdrawal", data: (fx) => fx.escrow.interface.encodeFunctionData("cancelWithdrawal") },
  {
    name: "settle",
    data: (fx) => fx.escrow.interface.encodeFunctionData("settle", [[fx.pendingVoucher], [fx.pendingSignature]]),
  },
  { name: "claim", data: (fx) => fx.escrow.interface.encodeFunctionData("claim", [fx.tokenAddress]) },
  { name: "withdraw", data: (fx) => fx.escrow.interface.encodeFunctionData("withdraw", [fx.tokenAddress]) },
  { name: "deposit", data: (fx) => fx.escrow.interface.encodeFunctionData("deposit", [INNER_AMOUNT]) },
];

/** Escrow calls that move the token, none of them settle, with exactly what each must change on its own. */
const outerCalls: {
  name: string;
  send: (fx: Fixture) => Promise<unknown>;
  changes: (before: State) => Record<string, bigint>;
}[] = [
  {
    name: "deposit's transferFrom",
    send: (fx) => fx.escrow.connect(fx.payerB).deposit(OUTER_DEPOSIT),
    changes: (s) => ({
      "tokens.payerB": s["tokens.payerB"] - OUTER_DEPOSIT,
      "tokens.escrow": s["tokens.escrow"] + OUTER_DEPOSIT,
      "available.payerB": s["available.payerB"] + OUTER_DEPOSIT,
    }),
  },
  {
    name: "withdraw's transfer",
    send: (fx) => fx.escrow.connect(fx.payerA).withdraw(fx.payerA.address),
    changes: (s) => ({
      "tokens.payerA": s["tokens.payerA"] + PAYER_THAWED,
      "tokens.escrow": s["tokens.escrow"] - PAYER_THAWED,
      "thawing.payerA": 0n,
      "thawEndsAt.payerA": 0n,
    }),
  },
  {
    name: "claim's transfer",
    send: (fx) => fx.escrow.connect(fx.providerA).claim(fx.providerA.address),
    changes: (s) => ({
      "tokens.providerA": s["tokens.providerA"] + splitOf(PAID_TO_PROVIDER).providerShare,
      "tokens.escrow": s["tokens.escrow"] - splitOf(PAID_TO_PROVIDER).providerShare,
      "earnings.providerA": 0n,
    }),
  },
];

describe("UsageEscrow: every guarded function refuses reentry from a token transfer", function () {
  it("the fixture gives the attacker something to gain from every reentrant call", async function () {
    const fx = await loadFixture(reentrancyFixture);
    const s = await stateOf(fx);
    expect(s["tokens.attacker"]).to.equal(TOKEN_OWN_TOKENS);
    expect(await fx.token.allowance(fx.tokenAddress, fx.escrowAddress)).to.equal(ethers.MaxUint256);
    expect(s["available.attacker"]).to.equal(TOKEN_AVAILABLE);
    expect(s["thawing.attacker"]).to.equal(TOKEN_THAWED);
    expect(s["thawEndsAt.attacker"]).to.be.lessThanOrEqual(BigInt(await time.latest()));
    expect(s["earnings.attacker"]).to.equal(splitOf(PAID_TO_TOKEN).providerShare);
    expect(s["thawing.payerA"]).to.equal(PAYER_THAWED);
    expect(s["earnings.providerA"]).to.equal(splitOf(PAID_TO_PROVIDER).providerShare);
    expect(s["settled.payerB>providerA"]).to.equal(0n);
    expectSolvent(s);
  });

  for (const outer of outerCalls) {
    describe(`during ${outer.name}`, function () {
      for (const reentrant of reentrantCalls) {
        it(`a callback into ${reentrant.name} is refused with ReentrancyGuardReentrantCall and has no effect`, async function () {
          const fx = await loadFixture(reentrancyFixture);
          const { token, escrow, escrowAddress } = fx;
          const refusal = escrow.interface.getError("ReentrancyGuardReentrantCall")!.selector;
          const before = await stateOf(fx);
          expectSolvent(before);

          await token.setReentry(escrowAddress, reentrant.data(fx));
          const tx = outer.send(fx);
          // The outer call completes: the token swallows the refusal and reports it.
          await expect(tx).to.emit(token, "ReentryAttempted").withArgs(escrowAddress, false, refusal);
          expect(await token.lastReentrySucceeded()).to.equal(false);
          // Exactly the bare selector: no other error, no arguments.
          expect(await token.lastReentryRevertData()).to.equal(refusal);

          // Only the outer call's own effect, once; nothing from the reentrant call.
          const after = await stateOf(fx);
          expect(after).to.deep.equal(applied(before, outer.changes(before)));
          expectSolvent(after);
        });
      }
    });
  }

  describe("outside a transfer the same calls are not refused by the guard, so the refusals above are its doing", function () {
    const controls: {
      name: string;
      /** What the call must change, given the state before it and the timestamp of its block. */
      changes: (before: State, at: bigint) => Record<string, bigint>;
    }[] = [
      {
        name: "depositFor",
        changes: (s) => ({
          "tokens.attacker": s["tokens.attacker"] - INNER_AMOUNT,
          "tokens.escrow": s["tokens.escrow"] + INNER_AMOUNT,
          "available.beneficiary": INNER_AMOUNT,
        }),
      },
      {
        name: "depositWithPermit",
        changes: (s) => ({
          "tokens.attacker": s["tokens.attacker"] - INNER_AMOUNT,
          "tokens.escrow": s["tokens.escrow"] + INNER_AMOUNT,
          "available.attacker": s["available.attacker"] + INNER_AMOUNT,
        }),
      },
      {
        name: "requestWithdrawal",
        changes: (s, at) => ({
          "available.attacker": s["available.attacker"] - INNER_AMOUNT,
          "thawing.attacker": s["thawing.attacker"] + INNER_AMOUNT,
          // The request restarts the attacker's timer: its matured withdrawal is thawing again.
          "thawEndsAt.attacker": at + THAWING_PERIOD,
        }),
      },
      {
        name: "cancelWithdrawal",
        changes: (s) => ({
          "available.attacker": s["available.attacker"] + s["thawing.attacker"],
          "thawing.attacker": 0n,
          "thawEndsAt.attacker": 0n,
        }),
      },
      {
        name: "settle",
        changes: (s) => ({
          "available.payerB": s["available.payerB"] - PENDING_AMOUNT,
          "earnings.providerA": s["earnings.providerA"] + splitOf(PENDING_AMOUNT).providerShare,
          "earnings.treasury": s["earnings.treasury"] + splitOf(PENDING_AMOUNT).fee,
          "settled.payerB>providerA": PENDING_AMOUNT,
        }),
      },
      {
        name: "claim",
        changes: (s) => ({
          "tokens.attacker": s["tokens.attacker"] + s["earnings.attacker"],
          "tokens.escrow": s["tokens.escrow"] - s["earnings.attacker"],
          "earnings.attacker": 0n,
        }),
      },
      {
        name: "withdraw",
        changes: (s) => ({
          "tokens.attacker": s["tokens.attacker"] + s["thawing.attacker"],
          "tokens.escrow": s["tokens.escrow"] - s["thawing.attacker"],
          "thawing.attacker": 0n,
          "thawEndsAt.attacker": 0n,
        }),
      },
      {
        name: "deposit",
        changes: (s) => ({
          "tokens.attacker": s["tokens.attacker"] - INNER_AMOUNT,
          "tokens.escrow": s["tokens.escrow"] + INNER_AMOUNT,
          "available.attacker": s["available.attacker"] + INNER_AMOUNT,
        }),
      },
    ];

    for (const control of controls) {
      it(`${control.name} called by the token on its own succeeds and takes effect`, async function () {
        const fx = await loadFixture(reentrancyFixture);
        const reentrant = reentrantCalls.find((call) => call.name === control.name)!;
        const before = await stateOf(fx);
        await callFromToken(fx.token, fx.escrowAddress, reentrant.data(fx), fx.stranger);
        const after = await stateOf(fx);
        expect(after).to.deep.equal(applied(before, control.changes(before, BigInt(await time.latest()))));
        expectSolvent(after);
      });
    }

    it("depositWithAuthorization called by the token on its own fails on the missing receiveWithAuthorization, not on the guard", async function () {
      const fx = await loadFixture(reentrancyFixture);
      const { token, escrow, escrowAddress, stranger } = fx;
      const refusal = escrow.interface.getError("ReentrancyGuardReentrantCall")!.selector;
      const reentrant = reentrantCalls.find((call) => call.name === "depositWithAuthorization")!;
      const before = await stateOf(fx);

      await token.setReentry(escrowAddress, reentrant.data(fx));
      await token.connect(stranger).transfer(stranger.address, 0n);
      expect(await token.lastReentrySucceeded()).to.equal(false);
      const revertData = await token.lastReentryRevertData();
      // ReentrantToken has no receiveWithAuthorization and no fallback: the call reverts bare.
      expect(revertData).to.equal("0x");
      expect(revertData).to.not.equal(refusal);
      expect(await stateOf(fx)).to.deep.equal(before);
    });
  });
});
