import { expect } from "chai";
import { ZeroHash } from "ethers";
import type { EscrowEvent, EscrowEventArgs, EscrowEventName } from "../../../server/chain/escrowEvents";
import {
  applyToPayerBalance,
  EMPTY_PAYER_BALANCE,
  EscrowMirrorError,
  replayPayerBalance,
} from "../../../server/chain/payerBalance";

const PAYER = "0x00000000000000000000000000000000000000aa";
const PROVIDER = "0x00000000000000000000000000000000000000bb";
let logIndex = 0;

function event<Name extends EscrowEventName>(name: Name, args: EscrowEventArgs<Name>): EscrowEvent {
  return { blockNumber: 1, blockHash: ZeroHash, txHash: ZeroHash, logIndex: logIndex++, name, args } as EscrowEvent;
}
const deposited = (amount: bigint) => event("Deposited", { payer: PAYER, from: PAYER, amount });
const requested = (thawing: bigint, thawEndsAt: bigint) =>
  event("WithdrawalRequested", { payer: PAYER, thawing, thawEndsAt });
const settled = (paid: bigint) =>
  event("Settled", {
    payer: PAYER,
    provider: PROVIDER,
    cumulativeAmount: paid,
    paid,
    providerShare: paid - paid / 10n,
    fee: paid / 10n,
    usageRoot: ZeroHash,
  });

describe("chain/payerBalance", () => {
  it("follows deposits, withdrawal requests (which restart the timer), cancels and withdrawals", () => {
    const balance = replayPayerBalance([deposited(100n), requested(30n, 1_000n), requested(50n, 2_000n)]);
    expect(balance).to.deep.equal({ availableBase: 50n, thawingBase: 50n, thawEndsAt: 2_000n });
    const cancelled = applyToPayerBalance(balance, event("WithdrawalCancelled", { payer: PAYER, amount: 50n }));
    expect(cancelled).to.deep.equal({ availableBase: 100n, thawingBase: 0n, thawEndsAt: 0n });
    const withdrawn = applyToPayerBalance(balance, event("Withdrawn", { payer: PAYER, to: PROVIDER, amount: 50n }));
    expect(withdrawn).to.deep.equal({ availableBase: 50n, thawingBase: 0n, thawEndsAt: 0n });
  });

  it("draws a settlement from available first, then from thawing, and drops the timer once nothing thaws", () => {
    const start = replayPayerBalance([deposited(100n), requested(40n, 9_000n)]);
    expect(applyToPayerBalance(start, settled(60n))).to.deep.equal({
      availableBase: 0n,
      thawingBase: 40n,
      thawEndsAt: 9_000n,
    });
    expect(applyToPayerBalance(start, settled(70n))).to.deep.equal({
      availableBase: 0n,
      thawingBase: 30n,
      thawEndsAt: 9_000n,
    });
    expect(applyToPayerBalance(start, settled(100n))).to.deep.equal({
      availableBase: 0n,
      thawingBase: 0n,
      thawEndsAt: 0n,
    });
  });

  it("leaves the balance alone for events that are not about it", () => {
    const start = replayPayerBalance([deposited(5n)]);
    expect(applyToPayerBalance(start, event("Claimed", { payee: PROVIDER, to: PROVIDER, amount: 5n }))).to.equal(start);
  });

  it("refuses events that cannot follow from the mirrored balance (a missed or doubled event)", () => {
    expect(() => applyToPayerBalance(EMPTY_PAYER_BALANCE, settled(1n))).to.throw(EscrowMirrorError);
    expect(() => applyToPayerBalance(EMPTY_PAYER_BALANCE, requested(1n, 1n))).to.throw(EscrowMirrorError);
    const thawing = replayPayerBalance([deposited(10n), requested(4n, 1n)]);
    expect(() => applyToPayerBalance(thawing, requested(4n, 2n))).to.throw(EscrowMirrorError);
    expect(() => applyToPayerBalance(thawing, event("Withdrawn", { payer: PAYER, to: PAYER, amount: 3n }))).to.throw(
      EscrowMirrorError,
    );
    expect(() => applyToPayerBalance(thawing, event("WithdrawalCancelled", { payer: PAYER, amount: 5n }))).to.throw(
      EscrowMirrorError,
    );
  });
});
