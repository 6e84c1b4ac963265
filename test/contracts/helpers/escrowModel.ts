/**
 * A pure TypeScript model of UsageEscrow's rules (DESIGN.md, "Settlement: cumulative vouchers" and
 * "The escrow's interface"), used by the invariant test as the oracle the contract is compared with.
 *
 * Every amount is a bigint in token base units and every address is kept in lower case. No method
 * touches a chain: each takes the caller (and, where time matters, the block timestamp) and returns
 * either `{ ok: true, events, ... }` with the escrow events the call must emit, in order, or
 * `{ ok: false, error, args }` with the custom error the call must revert with. A failing call
 * leaves the model unchanged, as a reverted transaction leaves the chain.
 *
 * Besides the escrow the model keeps a minimal ledger of the token (balances, allowances, EIP-2612
 * nonces, used EIP-3009 nonces), because deposits, withdrawals and claims move tokens and the
 * invariant "the escrow holds exactly what it owes" is stated in token balances. Token errors are
 * the MockUSDC / OpenZeppelin ERC20 ones (`ERC20InsufficientBalance`, ...).
 */

export const MAX_UINT128 = (1n << 128n) - 1n;
export const MAX_UINT256 = (1n << 256n) - 1n;
export const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";
const BPS = 10_000n;

export type Arg = bigint | string | boolean;

/** An escrow event as the model expects it: the event name and its arguments in ABI order. */
export interface ModelEvent {
  name: string;
  args: Arg[];
}

export type Ok<T = object> = { ok: true; events: ModelEvent[] } & T;
export interface Fail {
  ok: false;
  /** The custom error's name, e.g. "UsageEscrowStillThawing". */
  error: string;
  /** The custom error's arguments in ABI order (addresses in lower case). */
  args: Arg[];
}
export type Result<T = object> = Ok<T> | Fail;

export interface PayerState {
  available: bigint;
  thawing: bigint;
  /** The stored timer; the view reports 0 when nothing is thawing. */
  thawEndsAt: bigint;
}

/**
 * How a voucher's signature turns out when the escrow checks it. The model does not do
 * cryptography: the test recovers the signer off-chain (or knows the signature is malformed) and
 * the model decides whether that signer is authorised at the moment of the call.
 */
export type SignatureCheck =
  | { kind: "recovers"; signer: string } // a well-formed signature recovering to `signer`
  | { kind: "malformed" }; // wrong length or high-s: the escrow's ECDSA refuses it

export interface ModelVoucher {
  payer: string;
  provider: string;
  cumulativeAmount: bigint;
  usageRoot: string;
}

export interface SignedModelVoucher {
  voucher: ModelVoucher;
  signature: SignatureCheck;
}

/** What one voucher of a settled batch did. */
export interface VoucherEffect {
  index: number;
  paid: bigint;
  providerShare: bigint;
  fee: bigint;
  /** The pair's settled amount after this voucher. */
  newSettled: bigint;
}

export interface EscrowModelConfig {
  escrow: string;
  owner: string;
  treasury: string;
  feeBps: bigint;
  thawingPeriod: bigint;
}

const lc = (a: string) => a.toLowerCase();
const pairKey = (payer: string, provider: string) => `${lc(payer)}|${lc(provider)}`;
const fail = (error: string, ...args: Arg[]): Fail => ({
  ok: false,
  error,
  args: args.map((a) => (typeof a === "string" ? lc(a) : a)),
});
const ev = (name: string, ...args: Arg[]): ModelEvent => ({
  name,
  args: args.map((a) => (typeof a === "string" ? lc(a) : a)),
});

/** The token as far as the escrow's flows need it: an OpenZeppelin ERC20 with permit and EIP-3009. */
export class TokenModel {
  readonly balances = new Map<string, bigint>();
  readonly allowances = new Map<string, bigint>();
  readonly permitNonces = new Map<string, bigint>();
  readonly usedAuthorizations = new Set<string>();

  balanceOf(who: string): bigint {
    return this.balances.get(lc(who)) ?? 0n;
  }
  allowance(owner: string, spender: string): bigint {
    return this.allowances.get(pairKey(owner, spender)) ?? 0n;
  }
  nonceOf(owner: string): bigint {
    return this.permitNonces.get(lc(owner)) ?? 0n;
  }
  mint(to: string, amount: bigint): void {
    this.balances.set(lc(to), this.balanceOf(to) + amount);
  }
  approve(owner: string, spender: string, amount: bigint): void {
    this.allowances.set(pairKey(owner, spender), amount);
  }
  /** OpenZeppelin ERC20._transfer's check; returns the error or undefined. */
  checkTransfer(from: string, amount: bigint): Fail | undefined {
    const balance = this.balanceOf(from);
    if (balance < amount) return fail("ERC20InsufficientBalance", from, balance, amount);
    return undefined;
  }
  /** OpenZeppelin ERC20.transferFrom's checks, in its order: allowance, then balance. */
  checkTransferFrom(spender: string, from: string, amount: bigint): Fail | undefined {
    const allowance = this.allowance(from, spender);
    if (allowance !== MAX_UINT256 && allowance < amount) {
      return fail("ERC20InsufficientAllowance", spender, allowance, amount);
    }
    return this.checkTransfer(from, amount);
  }
  transfer(from: string, to: string, amount: bigint): void {
    this.balances.set(lc(from), this.balanceOf(from) - amount);
    this.balances.set(lc(to), this.balanceOf(to) + amount);
  }
  transferFrom(spender: string, from: string, to: string, amount: bigint): void {
    const allowance = this.allowance(from, spender);
    if (allowance !== MAX_UINT256) this.approve(from, spender, allowance - amount);
    this.transfer(from, to, amount);
  }
}

export class EscrowModel {
  readonly escrow: string;
  readonly feeBps: bigint;
  readonly thawingPeriod: bigint;
  owner: string;
  treasury: string;
  readonly signers = new Set<string>();
  readonly payers = new Map<string, PayerState>();
  readonly settled = new Map<string, bigint>();
  readonly earnings = new Map<string, bigint>();
  readonly token = new TokenModel();

  constructor(config: EscrowModelConfig) {
    this.escrow = lc(config.escrow);
    this.owner = lc(config.owner);
    this.treasury = lc(config.treasury);
    this.feeBps = config.feeBps;
    this.thawingPeriod = config.thawingPeriod;
  }

  // ---------------------------------------------------------------------------------------------
  // Views (what the contract's views must return)
  // ---------------------------------------------------------------------------------------------

  balanceOf(payer: string): { available: bigint; thawing: bigint; thawEndsAt: bigint } {
    const s = this.payers.get(lc(payer));
    if (!s) return { available: 0n, thawing: 0n, thawEndsAt: 0n };
    return { available: s.available, thawing: s.thawing, thawEndsAt: s.thawing === 0n ? 0n : s.thawEndsAt };
  }
  settledAmount(payer: string, provider: string): bigint {
    return this.settled.get(pairKey(payer, provider)) ?? 0n;
  }
  earningsOf(payee: string): bigint {
    return this.earnings.get(lc(payee)) ?? 0n;
  }
  isSigner(signer: string): boolean {
    return this.signers.has(lc(signer));
  }
  /** Σ(available + thawing) over all payers + Σ earnings over all payees: what the escrow must hold. */
  totalOwed(): bigint {
    let sum = 0n;
    for (const s of this.payers.values()) sum += s.available + s.thawing;
    for (const e of this.earnings.values()) sum += e;
    return sum;
  }
  /** The split of a payment: fee rounded down to the treasury, the rest to the provider. */
  split(paid: bigint): { providerShare: bigint; fee: bigint } {
    const fee = (paid * this.feeBps) / BPS;
    return { providerShare: paid - fee, fee };
  }

  private payer(who: string): PayerState {
    const key = lc(who);
    let s = this.payers.get(key);
    if (!s) {
      s = { available: 0n, thawing: 0n, thawEndsAt: 0n };
      this.payers.set(key, s);
    }
    return s;
  }
  private credit(payee: string, amount: bigint): void {
    this.earnings.set(lc(payee), this.earningsOf(payee) + amount);
  }
  private onlyOwner(sender: string): Fail | undefined {
    return lc(sender) === this.owner ? undefined : fail("OwnableUnauthorizedAccount", sender);
  }

  // ---------------------------------------------------------------------------------------------
  // Payers
  // ---------------------------------------------------------------------------------------------

  private creditDeposit(payer: string, from: string, received: bigint): Result<{ credited: bigint }> {
    if (received === 0n) return fail("UsageEscrowZeroAmount");
    const s = this.balanceOf(payer);
    const newAvailable = s.available + received;
    if (newAvailable + s.thawing > MAX_UINT128) return fail("UsageEscrowAmountTooLarge", newAvailable);
    return { ok: true, credited: received, events: [ev("Deposited", payer, from, received)] };
  }

  /** `deposit` (payer = sender) and `depositFor` (any payer): pulls `amount` from `sender`. */
  depositFor(sender: string, payer: string, amount: bigint): Result<{ credited: bigint }> {
    if (lc(payer) === ZERO_ADDRESS) return fail("UsageEscrowZeroAddress");
    if (amount === 0n) return fail("UsageEscrowZeroAmount");
    const tokenError = this.token.checkTransferFrom(this.escrow, sender, amount);
    if (tokenError) return tokenError;
    const result = this.creditDeposit(payer, sender, amount);
    if (!result.ok) return result;
    this.token.transferFrom(this.escrow, sender, this.escrow, amount);
    this.payer(payer).available += amount;
    return result;
  }

  deposit(sender: string, amount: bigint): Result<{ credited: bigint }> {
    return this.depositFor(sender, sender, amount);
  }

  /**
   * `depositWithPermit`: a permit that would succeed on the token sets the allowance (and uses the
   * nonce); one that would fail is ignored, and the deposit goes on with the allowance in place.
   */
  depositWithPermit(
    sender: string,
    amount: bigint,
    permit: { valid: boolean; deadline: bigint; now: bigint },
  ): Result<{ credited: bigint }> {
    const permitApplies = permit.valid && permit.now <= permit.deadline;
    const allowanceBefore = this.token.allowance(sender, this.escrow);
    const nonceBefore = this.token.nonceOf(sender);
    if (permitApplies) {
      this.token.approve(sender, this.escrow, amount);
      this.token.permitNonces.set(lc(sender), nonceBefore + 1n);
    }
    const result = this.depositFor(sender, sender, amount);
    if (!result.ok && permitApplies) {
      // The whole transaction reverts, the permit with it.
      this.token.approve(sender, this.escrow, allowanceBefore);
      this.token.permitNonces.set(lc(sender), nonceBefore);
    }
    return result;
  }

  /**
   * `depositWithAuthorization` through EIP-3009 `receiveWithAuthorization`. `signedByFrom` says
   * whether the authorisation's signature recovers to `from` (else it recovers to `recovered`).
   */
  depositWithAuthorization(
    from: string,
    amount: bigint,
    auth: {
      validAfter: bigint;
      validBefore: bigint;
      nonce: string;
      recovered: string;
      now: bigint;
    },
  ): Result<{ credited: bigint }> {
    if (lc(from) === ZERO_ADDRESS) return fail("UsageEscrowZeroAddress");
    if (amount === 0n) return fail("UsageEscrowZeroAmount");
    // MockUSDC's (FiatTokenV2's) order: validity window, unused nonce, signature, then the transfer.
    if (auth.now <= auth.validAfter) return fail("MockUSDCAuthorizationNotYetValid", auth.validAfter);
    if (auth.now >= auth.validBefore) return fail("MockUSDCAuthorizationExpired", auth.validBefore);
    const nonceKey = `${lc(from)}|${lc(auth.nonce)}`;
    if (this.token.usedAuthorizations.has(nonceKey)) return fail("MockUSDCAuthorizationUsed", from, auth.nonce);
    if (lc(auth.recovered) !== lc(from)) return fail("MockUSDCInvalidSigner", auth.recovered, from);
    const tokenError = this.token.checkTransfer(from, amount);
    if (tokenError) return tokenError;
    const result = this.creditDeposit(from, from, amount);
    if (!result.ok) return result;
    this.token.usedAuthorizations.add(nonceKey);
    this.token.transfer(from, this.escrow, amount);
    this.payer(from).available += amount;
    return result;
  }

  /** Moves `amount` from available to thawing and restarts the timer for everything thawing. */
  requestWithdrawal(sender: string, amount: bigint, now: bigint): Result<{ thawing: bigint; thawEndsAt: bigint }> {
    if (amount === 0n) return fail("UsageEscrowZeroAmount");
    const current = this.balanceOf(sender);
    if (amount > current.available) return fail("UsageEscrowInsufficientBalance", current.available, amount);
    const s = this.payer(sender);
    s.available -= amount;
    s.thawing += amount;
    s.thawEndsAt = now + this.thawingPeriod;
    return {
      ok: true,
      thawing: s.thawing,
      thawEndsAt: s.thawEndsAt,
      events: [ev("WithdrawalRequested", sender, s.thawing, s.thawEndsAt)],
    };
  }

  /** Moves everything thawing back to available. */
  cancelWithdrawal(sender: string): Result<{ amount: bigint }> {
    const current = this.balanceOf(sender);
    if (current.thawing === 0n) return fail("UsageEscrowNothingThawing");
    const s = this.payer(sender);
    const amount = s.thawing;
    s.available += amount;
    s.thawing = 0n;
    s.thawEndsAt = 0n;
    return { ok: true, amount, events: [ev("WithdrawalCancelled", sender, amount)] };
  }

  /** Sends everything thawing to `to` once `now >= thawEndsAt`. */
  withdraw(sender: string, to: string, now: bigint): Result<{ amount: bigint }> {
    if (lc(to) === ZERO_ADDRESS) return fail("UsageEscrowZeroAddress");
    const current = this.balanceOf(sender);
    if (current.thawing === 0n) return fail("UsageEscrowNothingThawing");
    if (now < current.thawEndsAt) return fail("UsageEscrowStillThawing", current.thawEndsAt);
    const s = this.payer(sender);
    const amount = s.thawing;
    s.thawing = 0n;
    s.thawEndsAt = 0n;
    this.token.transfer(this.escrow, to, amount);
    return { ok: true, amount, events: [ev("Withdrawn", sender, to, amount)] };
  }

  // ---------------------------------------------------------------------------------------------
  // Settlement and earnings
  // ---------------------------------------------------------------------------------------------

  /**
   * `settle`: the batch reverts as a whole when the arrays differ in length, or any voucher (stale
   * or not), checked in order, has a malformed signature, a signer that is not authorised now, or a
   * zero payer or provider. Otherwise each voucher in order pays
   * `min(cumulative - settled, available + thawing)`, available first, and the pair records what
   * was paid; a voucher not above the settled amount, or whose payer has nothing, pays and emits
   * nothing. The fee (rounded down) accrues to the current treasury.
   */
  settle(batch: SignedModelVoucher[], signatureCount = batch.length): Result<{ totalPaid: bigint; effects: VoucherEffect[] }> {
    if (batch.length !== signatureCount) return fail("UsageEscrowLengthMismatch");
    // Validation does not depend on the effects of earlier vouchers, so it can come first: the
    // first failing voucher decides the error, as in a sequential check.
    for (let i = 0; i < batch.length; i++) {
      const { voucher, signature } = batch[i];
      if (signature.kind === "malformed") return fail("UsageEscrowInvalidSignature", BigInt(i));
      if (!this.isSigner(signature.signer)) return fail("UsageEscrowInvalidSigner", signature.signer);
      if (lc(voucher.payer) === ZERO_ADDRESS || lc(voucher.provider) === ZERO_ADDRESS) {
        return fail("UsageEscrowZeroAddress");
      }
      if (voucher.cumulativeAmount < 0n || voucher.cumulativeAmount > MAX_UINT128) {
        throw new Error("model: cumulativeAmount must fit uint128");
      }
    }
    const events: ModelEvent[] = [];
    const effects: VoucherEffect[] = [];
    let totalPaid = 0n;
    let totalFee = 0n;
    for (let i = 0; i < batch.length; i++) {
      const { voucher } = batch[i];
      const already = this.settledAmount(voucher.payer, voucher.provider);
      if (voucher.cumulativeAmount <= already) continue;
      const due = voucher.cumulativeAmount - already;
      const s = this.payer(voucher.payer);
      const fromAvailable = due <= s.available ? due : s.available;
      const rest = due - fromAvailable;
      const fromThawing = rest <= s.thawing ? rest : s.thawing;
      const paid = fromAvailable + fromThawing;
      if (paid === 0n) continue;
      s.available -= fromAvailable;
      s.thawing -= fromThawing; // the timer is left alone; the view shows 0 once nothing thaws
      const newSettled = already + paid;
      this.settled.set(pairKey(voucher.payer, voucher.provider), newSettled);
      const { providerShare, fee } = this.split(paid);
      this.credit(voucher.provider, providerShare);
      totalPaid += paid;
      totalFee += fee;
      effects.push({ index: i, paid, providerShare, fee, newSettled });
      events.push(
        ev("Settled", voucher.payer, voucher.provider, newSettled, paid, providerShare, fee, voucher.usageRoot),
      );
    }
    if (totalFee !== 0n) this.credit(this.treasury, totalFee);
    return { ok: true, totalPaid, effects, events };
  }

  /** Sends all of the sender's earnings to `to`. */
  claim(sender: string, to: string): Result<{ amount: bigint }> {
    if (lc(to) === ZERO_ADDRESS) return fail("UsageEscrowZeroAddress");
    const amount = this.earningsOf(sender);
    if (amount === 0n) return fail("UsageEscrowZeroAmount");
    this.earnings.set(lc(sender), 0n);
    this.token.transfer(this.escrow, to, amount);
    return { ok: true, amount, events: [ev("Claimed", sender, to, amount)] };
  }

  // ---------------------------------------------------------------------------------------------
  // Administration
  // ---------------------------------------------------------------------------------------------

  authorizeSigner(sender: string, signer: string): Result {
    const notOwner = this.onlyOwner(sender);
    if (notOwner) return notOwner;
    if (lc(signer) === ZERO_ADDRESS) return fail("UsageEscrowZeroAddress");
    if (this.isSigner(signer)) return fail("UsageEscrowSignerAlreadyAuthorized", signer);
    this.signers.add(lc(signer));
    return { ok: true, events: [ev("SignerAuthorized", signer)] };
  }

  revokeSigner(sender: string, signer: string): Result {
    const notOwner = this.onlyOwner(sender);
    if (notOwner) return notOwner;
    if (!this.isSigner(signer)) return fail("UsageEscrowSignerNotAuthorized", signer);
    this.signers.delete(lc(signer));
    return { ok: true, events: [ev("SignerRevoked", signer)] };
  }

  /** Future fees go to `treasury`; what the old one accrued stays its own. */
  setTreasury(sender: string, treasury: string): Result {
    const notOwner = this.onlyOwner(sender);
    if (notOwner) return notOwner;
    if (lc(treasury) === ZERO_ADDRESS) return fail("UsageEscrowZeroAddress");
    const previous = this.treasury;
    this.treasury = lc(treasury);
    return { ok: true, events: [ev("TreasuryChanged", previous, treasury)] };
  }

  /** Ownership can never be renounced (only the owner even gets to be told so). */
  renounceOwnership(sender: string): Result {
    const notOwner = this.onlyOwner(sender);
    if (notOwner) return notOwner;
    return fail("UsageEscrowRenounceOwnershipDisabled");
  }
}
