/**
 * Model-based invariant test of UsageEscrow: seeded random sequences of every operation, valid and
 * invalid, run against the contract and against the pure model in helpers/escrowModel.ts. After
 * every step the chain must agree with the model on every view, the escrow must hold exactly what it
 * owes, settled amounts never go down, and each call must succeed or revert exactly as the model says.
 *
 *   INVARIANT_SEED=<uint32>  reproduces a run (the seed is printed; default: random)
 *   INVARIANT_OPS=<n>        number of operations (default 1000)
 */
import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { Signature, Wallet, type Interface, type Signer, type TransactionResponse, type TypedDataDomain, type ContractTransactionResponse } from "ethers";
import { randomInt } from "crypto";
import { deployEscrowFixture, FEE_BPS, THAWING_PERIOD, USDC } from "./helpers/escrowFixture";
import { hashVoucher, signVoucher, type Voucher } from "../../server/chain/voucher";
import {
  EscrowModel,
  MAX_UINT128,
  MAX_UINT256,
  ZERO_ADDRESS,
  type Arg,
  type ModelEvent,
  type Result,
  type SignatureCheck,
  type SignedModelVoucher,
} from "./helpers/escrowModel";

const SEED = process.env.INVARIANT_SEED !== undefined ? Number(process.env.INVARIANT_SEED) >>> 0 : randomInt(2 ** 32);
const OPS = Number(process.env.INVARIANT_OPS ?? 1000);
const GAS = { gasLimit: 5_000_000 };
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

// ------------------------------------------------------------------------------------------------
// Deterministic randomness
// ------------------------------------------------------------------------------------------------

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG; the whole run is a function of its seed. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  /** A bigint in [lo, hi] (uniform enough for test amounts). */
  big(lo: bigint, hi: bigint): bigint {
    if (hi <= lo) return lo;
    const span = hi - lo + 1n;
    let r = 0n;
    for (let i = 0; i < 5; i++) r = (r << 32n) | BigInt(Math.floor(this.next() * 4294967296));
    return lo + (r % span);
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  weighted<T extends string>(weights: Record<T, number>): T {
    const entries = Object.entries(weights) as [T, number][];
    let r = this.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [k, w] of entries) {
      if ((r -= w) < 0) return k;
    }
    return entries[entries.length - 1][0];
  }
  bytes32(): string {
    let hex = "0x";
    for (let i = 0; i < 8; i++) hex += Math.floor(this.next() * 4294967296).toString(16).padStart(8, "0");
    return hex;
  }
}

// ------------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------------

const lc = (a: string) => a.toLowerCase();
const fmt = (x: unknown): string =>
  JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? `${v}n` : v)) ?? String(x);

/** Normalises an ethers-decoded value (Result, address, bigint, bytes32) for comparison with the model. */
function norm(v: unknown): Arg {
  if (typeof v === "string") return lc(v);
  if (typeof v === "bigint" || typeof v === "boolean") return v;
  if (typeof v === "number") return BigInt(v);
  throw new Error(`unexpected value ${fmt(v)}`);
}

/** Finds the revert data in whatever error Hardhat / ethers threw. */
function revertData(e: unknown): string | undefined {
  let x: any = e;
  for (let depth = 0; x && depth < 8; depth++) {
    if (typeof x.data === "string" && x.data.startsWith("0x")) return x.data;
    if (x.data && typeof x.data.data === "string") return x.data.data;
    x = x.error ?? x.cause ?? x.info?.error;
  }
  return undefined;
}

type ChainOutcome = { ok: true; events: ModelEvent[] } | { ok: false; error: string; args: Arg[] };

interface Actor {
  name: string;
  address: string;
  signer: Signer;
}

interface KeyRef {
  name: string;
  address: string;
  wallet: Signer;
}

interface IssuedVoucher {
  voucher: Voucher;
  signature: string;
  check: SignatureCheck;
}

describe("UsageEscrow invariants (seeded random operations against a model)", function () {
  this.timeout(Math.max(120_000, OPS * 300));

  it(`agrees with the model after each of ${OPS} random operations`, async function () {
    console.log(`      UsageEscrow invariant run: INVARIANT_SEED=${SEED} INVARIANT_OPS=${OPS}`);
    const started = Date.now();
    const rng = new Rng(SEED);

    const f = await loadFixture(deployEscrowFixture);
    const { usdc, escrow, escrowAddress, domain, owner } = f;
    const all = await ethers.getSigners();
    const actor = (name: string, signer: Signer & { address: string }): Actor => ({ name, address: signer.address, signer });

    const payers: Actor[] = [
      actor("payerA", f.payers[0]),
      actor("payerB", f.payers[1]),
      actor("payerC", f.payers[2]),
      actor("payerD", all[10]),
    ];
    const stranger = actor("stranger", f.stranger);
    const depositors = [...payers, stranger]; // everyone who can hold a deposit
    const providers: Actor[] = f.providers.map((p, i) => actor(`provider${"ABC"[i]}`, p));
    const treasuries: Actor[] = [actor("treasury0", f.treasury), actor("treasury1", all[11]), actor("treasury2", all[12])];
    const ownerActor = actor("owner", owner);
    const payees = [...providers, ...treasuries]; // everyone who can hold earnings
    const everyone = [...depositors, ...providers, ...treasuries, ownerActor];
    const nameOf = new Map<string, string>([[lc(escrowAddress), "escrow"], [ZERO_ADDRESS, "zero"]]);
    for (const a of everyone) nameOf.set(lc(a.address), a.name);

    // Signing keys: the fixture's signer plus three local keys; `outsider` is never authorised.
    const rotation: KeyRef[] = [
      { name: "signer0", address: f.signer.address, wallet: f.signer },
      ...[1, 2].map((i) => {
        const w = new Wallet(ethers.id(`usage-escrow-invariant-signer-${i}`));
        return { name: `signer${i}`, address: w.address, wallet: w };
      }),
    ];
    const outsiderWallet = new Wallet(ethers.id("usage-escrow-invariant-outsider"));
    const outsider: KeyRef = { name: "outsider", address: outsiderWallet.address, wallet: outsiderWallet };
    const keys = [...rotation, outsider];
    for (const k of keys) nameOf.set(lc(k.address), k.name);

    // --------------------------------------------------------------------------------------------
    // The model, brought to the fixture's state, then the extra setup applied to both.
    // --------------------------------------------------------------------------------------------
    const model = new EscrowModel({
      escrow: escrowAddress,
      owner: owner.address,
      treasury: f.treasury.address,
      feeBps: FEE_BPS,
      thawingPeriod: THAWING_PERIOD,
    });
    model.signers.add(lc(f.signer.address));
    for (const p of payers.slice(0, 3)) {
      model.token.mint(p.address, 1_000n * USDC);
      model.token.approve(p.address, escrowAddress, MAX_UINT256);
    }
    for (const a of [payers[3], stranger]) {
      await usdc.mint(a.address, 1_000n * USDC);
      await usdc.connect(a.signer).approve(escrowAddress, ethers.MaxUint256);
      model.token.mint(a.address, 1_000n * USDC);
      model.token.approve(a.address, escrowAddress, MAX_UINT256);
    }
    await escrow.connect(owner).authorizeSigner(rotation[1].address);
    model.authorizeSigner(owner.address, rotation[1].address);

    const usdcDomain: TypedDataDomain = {
      name: "USD Coin",
      version: "2",
      chainId: domain.chainId,
      verifyingContract: await usdc.getAddress(),
    };

    // --------------------------------------------------------------------------------------------
    // Time: every transaction's timestamp is pinned, so the model knows `block.timestamp` exactly.
    // --------------------------------------------------------------------------------------------
    let clock = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
    const nextTimestamp = async (): Promise<bigint> => {
      clock += 1n;
      await network.provider.request({ method: "evm_setNextBlockTimestamp", params: [Number(clock)] });
      return clock;
    };

    // --------------------------------------------------------------------------------------------
    // Sending a call and turning its outcome into the model's terms
    // --------------------------------------------------------------------------------------------
    const send = async (call: () => Promise<ContractTransactionResponse | TransactionResponse>): Promise<ChainOutcome> => {
      let receipt;
      try {
        const tx = await call();
        receipt = await tx.wait();
      } catch (e) {
        const data = revertData(e);
        if (data === undefined) throw e;
        const parsed = escrow.interface.parseError(data) ?? usdc.interface.parseError(data);
        if (!parsed) throw new Error(`unparseable revert data ${data}: ${(e as Error).message}`);
        return { ok: false, error: parsed.name, args: [...parsed.args].map(norm) };
      }
      const events: ModelEvent[] = [];
      for (const log of receipt!.logs) {
        if (lc(log.address) !== lc(escrowAddress)) continue;
        const parsed = escrow.interface.parseLog(log)!;
        events.push({ name: parsed.name, args: [...parsed.args].map(norm) });
      }
      return { ok: true, events };
    };

    // Statistics, printed at the end: outcome counts per operation, and coverage of edge cases.
    const stats = new Map<string, number>();
    const bump = (key: string, n = 1) => stats.set(key, (stats.get(key) ?? 0) + n);
    const recent: string[] = [];
    let step = 0;

    const opLabel = (what: string) => /^[A-Za-z]+(\([^)]*\))?/.exec(what)![0];
    const compare = (what: string, expected: Result<any>, actual: ChainOutcome) => {
      const where = `step ${step} (${what}) [seed ${SEED}]`;
      if (expected.ok !== actual.ok) {
        throw new Error(
          `${where}: model says ${expected.ok ? "success" : `revert ${expected.error}${fmt(expected.args)}`}, ` +
            `contract ${actual.ok ? `succeeded with ${fmt(actual.events)}` : `reverted with ${actual.error}${fmt(actual.args)}`}`,
        );
      }
      if (!expected.ok && !actual.ok) {
        if (actual.error !== expected.error || fmt(actual.args) !== fmt(expected.args)) {
          throw new Error(
            `${where}: model expects revert ${expected.error}${fmt(expected.args)}, contract reverted with ${actual.error}${fmt(actual.args)}`,
          );
        }
        bump(`${opLabel(what)} -> ${actual.error}`);
      } else if (expected.ok && actual.ok) {
        if (fmt(actual.events) !== fmt(expected.events)) {
          throw new Error(`${where}: events differ\n  model:    ${fmt(expected.events)}\n  contract: ${fmt(actual.events)}`);
        }
        bump(`${opLabel(what)} -> ok`);
      }
    };

    // --------------------------------------------------------------------------------------------
    // Checking every view against the model after each step
    // --------------------------------------------------------------------------------------------
    const usdcAddress = await usdc.getAddress();
    interface Read {
      label: string;
      to: string;
      data: string;
      decode: (ret: string) => unknown;
      expected: () => unknown;
    }
    const reads: Read[] = [];
    const escrowIface: Interface = escrow.interface;
    const escrowRead = (label: string, fn: string, args: unknown[], expected: () => unknown, pick = (r: any) => r[0]) =>
      reads.push({
        label,
        to: escrowAddress,
        data: escrowIface.encodeFunctionData(fn, args),
        decode: (ret) => pick(escrowIface.decodeFunctionResult(fn, ret)),
        expected,
      });
    for (const d of depositors) {
      escrowRead(
        `balanceOf(${d.name})`,
        "balanceOf",
        [d.address],
        () => {
          const b = model.balanceOf(d.address);
          return [b.available, b.thawing, b.thawEndsAt];
        },
        (r) => [r[0], r[1], r[2]],
      );
    }
    const settledIndex: { label: string; payer: string; provider: string; index: number }[] = [];
    for (const d of depositors) {
      for (const p of payees) {
        settledIndex.push({ label: `${d.name}->${p.name}`, payer: d.address, provider: p.address, index: reads.length });
        escrowRead(`settledAmount(${d.name},${p.name})`, "settledAmount", [d.address, p.address], () =>
          model.settledAmount(d.address, p.address),
        );
      }
    }
    const earningsReads: number[] = [];
    for (const p of [...payees, ...depositors]) {
      earningsReads.push(reads.length);
      escrowRead(`earningsOf(${p.name})`, "earningsOf", [p.address], () => model.earningsOf(p.address));
    }
    escrowRead("treasury()", "treasury", [], () => model.treasury, (r) => lc(r[0]));
    for (const k of keys) escrowRead(`isSigner(${k.name})`, "isSigner", [k.address], () => model.isSigner(k.address));
    const tokenBalanceIndex = reads.length;
    for (const who of [{ name: "escrow", address: escrowAddress }, ...everyone]) {
      reads.push({
        label: `usdc.balanceOf(${who.name})`,
        to: usdcAddress,
        data: usdc.interface.encodeFunctionData("balanceOf", [who.address]),
        decode: (ret) => usdc.interface.decodeFunctionResult("balanceOf", ret)[0],
        expected: () => model.token.balanceOf(who.address),
      });
    }
    for (const d of depositors) {
      reads.push({
        label: `usdc.allowance(${d.name},escrow)`,
        to: usdcAddress,
        data: usdc.interface.encodeFunctionData("allowance", [d.address, escrowAddress]),
        decode: (ret) => usdc.interface.decodeFunctionResult("allowance", ret)[0],
        expected: () => model.token.allowance(d.address, escrowAddress),
      });
    }
    const trackedPayers = new Set(depositors.map((d) => lc(d.address)));
    const trackedPayees = new Set([...payees, ...depositors].map((p) => lc(p.address)));
    const lastSettled = new Map<number, bigint>();

    const checkAll = async (what: string) => {
      const where = `step ${step} (${what}) [seed ${SEED}]`;
      const results = await Promise.all(
        reads.map((r) => network.provider.request({ method: "eth_call", params: [{ to: r.to, data: r.data }, "latest"] })),
      );
      const actual = results.map((ret, i) => reads[i].decode(ret as string));
      const mismatches: string[] = [];
      actual.forEach((a, i) => {
        const e = reads[i].expected();
        if (fmt(a) !== fmt(e)) mismatches.push(`${reads[i].label}: chain ${fmt(a)} != model ${fmt(e)}`);
      });
      if (mismatches.length) throw new Error(`${where}: views differ from the model:\n  ${mismatches.join("\n  ")}`);
      // (b) settled amounts never decrease.
      for (const s of settledIndex) {
        const now = actual[s.index] as bigint;
        const before = lastSettled.get(s.index) ?? 0n;
        if (now < before) throw new Error(`${where}: settledAmount ${s.label} decreased from ${before} to ${now}`);
        lastSettled.set(s.index, now);
      }
      // (a) the escrow holds exactly Σ(available + thawing) + Σ earnings, summed from the chain's views.
      let owed = 0n;
      for (let i = 0; i < depositors.length; i++) {
        const [available, thawing] = actual[i] as bigint[];
        owed += available + thawing;
      }
      for (const i of earningsReads) owed += actual[i] as bigint;
      const held = actual[tokenBalanceIndex] as bigint;
      if (held !== owed) throw new Error(`${where}: escrow holds ${held} but owes ${owed}`);
      if (model.totalOwed() !== owed) throw new Error(`${where}: model owes ${model.totalOwed()}, chain owes ${owed}`);
      // The sums above are complete only if nobody outside the tracked sets has a balance.
      for (const [k, s] of model.payers) {
        if (!trackedPayers.has(k) && s.available + s.thawing !== 0n) throw new Error(`${where}: untracked payer ${k}`);
      }
      for (const [k, e] of model.earnings) {
        if (!trackedPayees.has(k) && e !== 0n) throw new Error(`${where}: untracked payee ${k}`);
      }
    };

    // --------------------------------------------------------------------------------------------
    // Voucher bookkeeping of the generator: per pair, the highest amount ever signed and history.
    // --------------------------------------------------------------------------------------------
    const issued = new Map<string, { top: bigint; history: IssuedVoucher[] }>();
    const pairOf = (payer: string, provider: string) => {
      const key = `${lc(payer)}|${lc(provider)}`;
      let p = issued.get(key);
      if (!p) issued.set(key, (p = { top: 0n, history: [] }));
      return p;
    };
    const authorisedKeys = () => rotation.filter((k) => model.isSigner(k.address));
    const unauthorisedKeys = () => keys.filter((k) => !model.isSigner(k.address));

    const signWith = async (key: KeyRef, v: Voucher): Promise<IssuedVoucher> => {
      const signature = await signVoucher(key.wallet, domain, v);
      return { voucher: v, signature, check: { kind: "recovers", signer: ethers.recoverAddress(hashVoucher(domain, v), signature) } };
    };
    const malform = (s: IssuedVoucher): IssuedVoucher => {
      if (rng.chance(0.5)) {
        // The same signature with s flipped to the high half: valid for ecrecover, refused by ECDSA.
        const sig = Signature.from(s.signature);
        const highS = ethers.toBeHex(SECP256K1_N - BigInt(sig.s), 32);
        const v = sig.v === 27 ? 28 : 27;
        return { ...s, signature: ethers.concat([sig.r, highS, ethers.toBeHex(v, 1)]), check: { kind: "malformed" } };
      }
      return { ...s, signature: ethers.dataSlice(s.signature, 0, 64), check: { kind: "malformed" } };
    };

    /** A voucher for the batch, of one of several kinds; `bad` makes its signature fail. */
    const makeVoucher = async (batch: IssuedVoucher[], bad: boolean): Promise<IssuedVoucher> => {
      if (!bad && batch.length > 0 && rng.chance(0.12)) {
        bump("voucher: duplicate in batch");
        return rng.pick(batch);
      }
      const r = rng.float();
      const payer = r < 0.01 ? { address: ZERO_ADDRESS } : r < 0.05 ? stranger : rng.pick(payers);
      const r2 = rng.float();
      const provider = r2 < 0.01 ? { address: ZERO_ADDRESS } : r2 < 0.06 ? rng.pick(treasuries) : rng.pick(providers);
      const pair = pairOf(payer.address, provider.address);
      const settled = model.settledAmount(payer.address, provider.address);
      const mode = rng.weighted({ fresh: 60, old: 25, belowSettled: 8, sameAsSettled: 7 });

      let voucher: Voucher;
      let reuse: IssuedVoucher | undefined;
      if (mode === "old" && pair.history.length > 0) {
        // An earlier voucher of the pair, with its old signature (possibly by a signer revoked since)
        // or signed again.
        const old = rng.pick(pair.history);
        voucher = old.voucher;
        bump(voucher.cumulativeAmount <= settled ? "voucher: old, at or below settled" : "voucher: old, still due");
        const oldSigner = old.check.kind === "recovers" ? old.check.signer : ZERO_ADDRESS;
        if (!bad && rng.chance(0.5) && (model.isSigner(oldSigner) || rng.chance(0.2))) reuse = old;
      } else if ((mode === "belowSettled" && settled > 0n) || mode === "sameAsSettled") {
        const amount = mode === "sameAsSettled" ? settled : rng.big(0n, settled - 1n);
        bump(`voucher: ${mode}`);
        voucher = { payer: payer.address, provider: provider.address, cumulativeAmount: amount, usageRoot: rng.bytes32() };
      } else {
        const { available, thawing } = model.balanceOf(payer.address);
        const funds = available + thawing;
        const kind = rng.weighted({ small: 55, tiny: 12, beyondFunds: 18, zero: 5, allFunds: 5, fromAvailable: 5 });
        let cumulative: bigint;
        if (kind === "small") cumulative = pair.top + rng.big(1n, 3n * USDC);
        else if (kind === "tiny") cumulative = pair.top + rng.big(1n, 25n);
        else if (kind === "zero") cumulative = pair.top; // the latest voucher, signed again
        else {
          // Amounts measured from what the pair has been paid, so the payment is (or is not) partial.
          const increment =
            kind === "beyondFunds"
              ? funds + rng.big(1n, 5n * USDC)
              : kind === "allFunds"
                ? funds
                : available + (thawing > 0n ? rng.big(0n, thawing) : 0n);
          cumulative = settled + increment > pair.top ? settled + increment : pair.top;
        }
        if (cumulative > MAX_UINT128) cumulative = MAX_UINT128;
        bump(`voucher: fresh ${kind}`);
        voucher = { payer: payer.address, provider: provider.address, cumulativeAmount: cumulative, usageRoot: rng.bytes32() };
      }

      let made: IssuedVoucher;
      const good = authorisedKeys();
      if (reuse) {
        made = reuse;
      } else if (!bad && good.length > 0) {
        made = await signWith(rng.pick(good), voucher);
      } else {
        // A bad signature: by a key not authorised now, over another voucher, or malformed.
        const how = rng.weighted({ unauthorisedKey: 55, otherVoucher: 15, malformed: 30 });
        if (how === "unauthorisedKey" || (how === "otherVoucher" && good.length === 0)) {
          const k = rng.pick(unauthorisedKeys());
          made = await signWith(k, voucher);
          bump(`voucher: signed by unauthorised ${k.name === "outsider" ? "outsider" : "(revoked) rotation key"}`);
        } else if (how === "otherVoucher") {
          // A valid signature, but over a different voucher: it recovers to some unrelated address.
          const other = await signWith(rng.pick(good), { ...voucher, usageRoot: rng.bytes32() });
          const recovered = ethers.recoverAddress(hashVoucher(domain, voucher), other.signature);
          made = { voucher, signature: other.signature, check: { kind: "recovers", signer: recovered } };
          bump("voucher: signature over another voucher");
        } else {
          made = malform(await signWith(rng.pick(keys), voucher));
          bump("voucher: malformed signature");
        }
      }
      if (voucher.cumulativeAmount > pair.top) pair.top = voucher.cumulativeAmount;
      if (made.check.kind === "recovers" && !pair.history.includes(made)) {
        pair.history.push(made);
        if (pair.history.length > 12) pair.history.shift();
      }
      return made;
    };

    // --------------------------------------------------------------------------------------------
    // The operations
    // --------------------------------------------------------------------------------------------
    const anyRecipient = (self: Actor): Actor | { name: string; address: string } => {
      const r = rng.float();
      if (r < 0.04) return { name: "zero", address: ZERO_ADDRESS };
      if (r < 0.55) return self;
      return rng.pick(everyone);
    };
    const depositAmount = (from: Actor): bigint => {
      const wallet = model.token.balanceOf(from.address);
      const r = rng.float();
      if (r < 0.05) return 0n;
      if (r < 0.12) return wallet + rng.big(1n, 10n * USDC); // more than the wallet holds
      if (r < 0.17 && wallet > 0n) return wallet;
      return rng.big(1n, 60n * USDC);
    };
    /** A payer, with probability `p` one for which `want` holds (if any); sometimes the stranger. */
    const payerFor = (want: (b: ReturnType<EscrowModel["balanceOf"]>) => boolean, p: number): Actor => {
      const fitting = depositors.filter((d) => want(model.balanceOf(d.address)));
      if (fitting.length > 0 && rng.chance(p)) return rng.pick(fitting);
      return rng.chance(0.9) ? rng.pick(payers) : stranger;
    };
    let focus: Actor | undefined; // a payer whose thaw end a time jump just targeted

    const ops = {
      deposit: async () => {
        const p = rng.pick(payers);
        const amount = depositAmount(p);
        await nextTimestamp();
        const expected = model.deposit(p.address, amount);
        compare(`deposit ${p.name} ${amount}`, expected, await send(() => escrow.connect(p.signer).deposit(amount, GAS)));
      },
      depositFor: async () => {
        const from = rng.pick(depositors);
        const to = rng.chance(0.05) ? { name: "zero", address: ZERO_ADDRESS } : rng.pick(depositors);
        const amount = depositAmount(from);
        await nextTimestamp();
        const expected = model.depositFor(from.address, to.address, amount);
        compare(
          `depositFor ${from.name}->${to.name} ${amount}`,
          expected,
          await send(() => escrow.connect(from.signer).depositFor(to.address, amount, GAS)),
        );
      },
      depositWithPermit: async () => {
        const p = rng.pick(payers);
        const amount = depositAmount(p);
        const kind = rng.weighted({ valid: 70, wrongValue: 10, expired: 10, wrongNonce: 10 });
        const now = clock + 1n;
        const deadline = kind === "expired" ? now - 1n : now + BigInt(rng.int(0, 3600));
        const nonce = model.token.nonceOf(p.address) + (kind === "wrongNonce" ? 1n : 0n);
        const signed = Signature.from(
          await p.signer.signTypedData(
            usdcDomain,
            {
              Permit: [
                { name: "owner", type: "address" },
                { name: "spender", type: "address" },
                { name: "value", type: "uint256" },
                { name: "nonce", type: "uint256" },
                { name: "deadline", type: "uint256" },
              ],
            },
            { owner: p.address, spender: escrowAddress, value: amount + (kind === "wrongValue" ? 1n : 0n), nonce, deadline },
          ),
        );
        expect(await nextTimestamp()).to.equal(now);
        const expected = model.depositWithPermit(p.address, amount, { valid: kind === "valid" || kind === "expired", deadline, now });
        compare(
          `depositWithPermit(${kind}) ${p.name} ${amount}`,
          expected,
          await send(() => escrow.connect(p.signer).depositWithPermit(amount, deadline, signed.v, signed.r, signed.s, GAS)),
        );
      },
      depositWithAuthorization: async () => {
        const from = rng.pick(payers);
        const relayer = rng.pick(everyone);
        const amount = depositAmount(from);
        const kind = rng.weighted({ valid: 65, replayed: 10, wrongSigner: 10, expired: 8, notYetValid: 7 });
        const now = clock + 1n;
        const used = [...model.token.usedAuthorizations].filter((k) => k.startsWith(lc(from.address)));
        const nonce = kind === "replayed" && used.length > 0 ? rng.pick(used).split("|")[1] : rng.bytes32();
        const validAfter = kind === "notYetValid" ? now + BigInt(rng.int(0, 100)) : now - BigInt(rng.int(1, 100));
        const validBefore = kind === "expired" ? now - BigInt(rng.int(0, 5)) : now + BigInt(rng.int(1, 3600));
        const auth = { from: from.address, to: escrowAddress, value: amount, validAfter, validBefore, nonce };
        const by = kind === "wrongSigner" ? rng.pick(payers.filter((p) => p !== from)) : from;
        const fields = ["from", "to", "value", "validAfter", "validBefore", "nonce"].map((name) => ({
          name,
          type: name === "from" || name === "to" ? "address" : name === "nonce" ? "bytes32" : "uint256",
        }));
        const types = { ReceiveWithAuthorization: fields };
        const signature = await by.signer.signTypedData(usdcDomain, types, auth);
        const recovered = ethers.verifyTypedData(usdcDomain, types, auth, signature);
        const sig = Signature.from(signature);
        expect(await nextTimestamp()).to.equal(now);
        const expected = model.depositWithAuthorization(from.address, amount, { validAfter, validBefore, nonce, recovered, now });
        compare(
          `depositWithAuthorization(${kind}) ${from.name} via ${relayer.name} ${amount}`,
          expected,
          await send(() =>
            escrow
              .connect(relayer.signer)
              .depositWithAuthorization(from.address, amount, validAfter, validBefore, nonce, sig.v, sig.r, sig.s, GAS),
          ),
        );
      },
      whaleDeposit: async () => {
        // A deposit at (or one past) the 128-bit accounting limit.
        const p = rng.pick(depositors);
        const { available, thawing } = model.balanceOf(p.address);
        const amount = MAX_UINT128 - available - thawing + (rng.chance(0.5) ? 1n : 0n);
        if (amount === 0n) return;
        await nextTimestamp();
        await (await usdc.mint(p.address, amount)).wait();
        model.token.mint(p.address, amount);
        await nextTimestamp();
        const expected = model.deposit(p.address, amount);
        compare(`deposit(whale) ${p.name} ${amount}`, expected, await send(() => escrow.connect(p.signer).deposit(amount, GAS)));
      },
      approve: async () => {
        // Not an escrow call: restores (or limits) the allowance that permits and deposits use.
        const limited = depositors.filter((d) => model.token.allowance(d.address, escrowAddress) !== MAX_UINT256);
        const p = limited.length > 0 && rng.chance(0.8) ? rng.pick(limited) : rng.pick(depositors);
        const amount = rng.chance(0.85) ? MAX_UINT256 : rng.big(0n, 50n * USDC);
        await nextTimestamp();
        await (await usdc.connect(p.signer).approve(escrowAddress, amount)).wait();
        model.token.approve(p.address, escrowAddress, amount);
        bump("approve (token) -> ok");
      },
      mint: async () => {
        const p = rng.pick(depositors);
        const amount = rng.big(1n, 500n * USDC);
        await nextTimestamp();
        await (await usdc.mint(p.address, amount)).wait();
        model.token.mint(p.address, amount);
        bump("mint (token) -> ok");
      },
      requestWithdrawal: async () => {
        const p = payerFor((b) => b.available > 0n, 0.75);
        const { available } = model.balanceOf(p.address);
        const r = rng.float();
        const amount =
          r < 0.08 ? 0n : r < 0.2 ? available + rng.big(1n, 5n * USDC) : r < 0.35 ? available : rng.big(1n, available > 0n ? available : 1n);
        const now = await nextTimestamp();
        const expected = model.requestWithdrawal(p.address, amount, now);
        compare(`requestWithdrawal ${p.name} ${amount}`, expected, await send(() => escrow.connect(p.signer).requestWithdrawal(amount, GAS)));
      },
      cancelWithdrawal: async () => {
        const p = payerFor((b) => b.thawing > 0n, 0.75);
        await nextTimestamp();
        const expected = model.cancelWithdrawal(p.address);
        compare(`cancelWithdrawal ${p.name}`, expected, await send(() => escrow.connect(p.signer).cancelWithdrawal(GAS)));
      },
      withdraw: async () => {
        const p = focus && rng.chance(0.85) ? focus : payerFor((b) => b.thawing > 0n, 0.75);
        focus = undefined;
        const to = anyRecipient(p);
        const now = await nextTimestamp();
        const endBefore = model.balanceOf(p.address).thawEndsAt;
        const expected = model.withdraw(p.address, to.address, now);
        if (!expected.ok && expected.error === "UsageEscrowStillThawing" && expected.args[0] === now + 1n) bump("withdraw: one second early");
        if (expected.ok && now === endBefore) bump("withdraw: exactly at thaw end");
        compare(`withdraw ${p.name}->${to.name} at ${now}`, expected, await send(() => escrow.connect(p.signer).withdraw(to.address, GAS)));
      },
      settle: async () => {
        const relayer = rng.pick([...everyone]);
        const size = rng.chance(0.03) ? 0 : rng.int(1, 5);
        const badAt = rng.chance(0.15) && size > 0 ? rng.int(0, size - 1) : -1;
        const batch: IssuedVoucher[] = [];
        for (let i = 0; i < size; i++) batch.push(await makeVoucher(batch, i === badAt));
        const signatures = batch.map((b) => b.signature);
        if (rng.chance(0.03)) {
          if (signatures.length > 0 && rng.chance(0.5)) signatures.pop();
          else signatures.push(batch[0]?.signature ?? "0x");
        }
        await nextTimestamp();
        const modelBatch: SignedModelVoucher[] = batch.map((b) => ({ voucher: b.voucher, signature: b.check }));
        const snapshotBefore = batch.map((b) => model.balanceOf(b.voucher.payer));
        const expected = model.settle(modelBatch, signatures.length);
        if (expected.ok) {
          for (const e of expected.effects) {
            const v = batch[e.index].voucher;
            const due = v.cumulativeAmount - (e.newSettled - e.paid);
            if (e.paid < due) bump("settle: partial payment");
            const before = snapshotBefore[e.index];
            if (e.paid > before.available && before.thawing > 0n) bump("settle: drew from thawing");
          }
          if (expected.effects.length < batch.length) bump("settle: some vouchers paid nothing");
        }
        const desc = `settle[${batch
          .map((b) => `${nameOf.get(lc(b.voucher.payer))}->${nameOf.get(lc(b.voucher.provider))}:${b.voucher.cumulativeAmount}${b.check.kind === "malformed" ? "(malformed)" : `(${nameOf.get(lc(b.check.signer)) ?? "?"})`}`)
          .join(", ")}]${signatures.length !== batch.length ? ` with ${signatures.length} signatures` : ""} by ${relayer.name}`;
        const contractBatch = batch.map((b) => b.voucher);
        if (batch.length > 0 && rng.chance(0.1)) {
          // The digest the signers sign is the one the escrow checks.
          const v = rng.pick(contractBatch);
          expect(await escrow.hashVoucher(v), `step ${step}: hashVoucher`).to.equal(hashVoucher(domain, v));
        }
        if (expected.ok && rng.chance(0.25)) {
          // The return value, too: the sum of all payments.
          const totalPaid = await escrow.connect(relayer.signer).settle.staticCall(contractBatch, signatures);
          expect(totalPaid, `step ${step} (${desc}): totalPaid`).to.equal(expected.totalPaid);
        }
        compare(desc, expected, await send(() => escrow.connect(relayer.signer).settle(contractBatch, signatures, GAS)));
      },
      claim: async () => {
        const r = rng.float();
        const who: Actor = r < 0.55 ? rng.pick(providers) : r < 0.9 ? rng.pick(treasuries) : rng.pick(depositors);
        const to = anyRecipient(who);
        await nextTimestamp();
        const expected = model.claim(who.address, to.address);
        compare(`claim ${who.name}->${to.name}`, expected, await send(() => escrow.connect(who.signer).claim(to.address, GAS)));
      },
      timeJump: async () => {
        const thawing = depositors.filter((d) => model.balanceOf(d.address).thawing > 0n);
        let delta: bigint;
        if (thawing.length > 0 && rng.chance(0.65)) {
          // Land the next transaction just before, exactly at, or after some payer's thaw end.
          focus = rng.pick(thawing);
          const end = model.balanceOf(focus.address).thawEndsAt;
          const target = end + BigInt(rng.pick([-2, -1, -1, 0, 0, 0, 1, 60, 3600, 86_400]));
          delta = target - 1n - clock;
          bump("time: jump to a thaw end");
        } else {
          delta = BigInt(
            rng.pick([1, 59, 3600, 86_400, 3 * 86_400, Number(THAWING_PERIOD) - 1, Number(THAWING_PERIOD), Number(THAWING_PERIOD) + 1]),
          );
          bump("time: plain jump");
        }
        if (delta <= 0n) return;
        // Move the node's clock; the next transaction's timestamp is pinned to match.
        await network.provider.request({ method: "evm_increaseTime", params: [Number(delta)] });
        clock += delta;
      },
      setTreasury: async () => {
        const sender = rng.chance(0.9) ? ownerActor : rng.pick(everyone.filter((a) => a !== ownerActor));
        const t = rng.chance(0.05) ? { name: "zero", address: ZERO_ADDRESS } : rng.pick(treasuries);
        await nextTimestamp();
        const expected = model.setTreasury(sender.address, t.address);
        compare(`setTreasury ${t.name} by ${sender.name}`, expected, await send(() => escrow.connect(sender.signer).setTreasury(t.address, GAS)));
      },
      authorizeSigner: async () => {
        const sender = rng.chance(0.92) ? ownerActor : rng.pick(everyone.filter((a) => a !== ownerActor));
        const k = rng.chance(0.04) ? { name: "zero", address: ZERO_ADDRESS } : rng.pick(rotation);
        await nextTimestamp();
        const expected = model.authorizeSigner(sender.address, k.address);
        compare(`authorizeSigner ${k.name} by ${sender.name}`, expected, await send(() => escrow.connect(sender.signer).authorizeSigner(k.address, GAS)));
      },
      revokeSigner: async () => {
        const sender = rng.chance(0.92) ? ownerActor : rng.pick(everyone.filter((a) => a !== ownerActor));
        const k = rng.chance(0.1) ? outsider : rng.pick(rotation);
        await nextTimestamp();
        const expected = model.revokeSigner(sender.address, k.address);
        compare(`revokeSigner ${k.name} by ${sender.name}`, expected, await send(() => escrow.connect(sender.signer).revokeSigner(k.address, GAS)));
      },
      renounceOwnership: async () => {
        const sender = rng.chance(0.5) ? ownerActor : rng.pick(everyone);
        await nextTimestamp();
        const expected = model.renounceOwnership(sender.address);
        compare(
          `renounceOwnership by ${sender.name}`,
          expected,
          await send(() =>
            // A view in the contract (it always reverts), sent as a transaction all the same.
            sender.signer.sendTransaction({ to: escrowAddress, data: escrowIface.encodeFunctionData("renounceOwnership"), ...GAS }),
          ),
        );
      },
    } satisfies Record<string, () => Promise<void>>;

    const weights: Record<keyof typeof ops, number> = {
      deposit: 9,
      depositFor: 3,
      depositWithPermit: 2.5,
      depositWithAuthorization: 2.5,
      whaleDeposit: 0.3,
      approve: 3,
      mint: 3,
      requestWithdrawal: 8,
      cancelWithdrawal: 2.5,
      withdraw: 7,
      settle: 30,
      claim: 8,
      timeJump: 6,
      setTreasury: 2,
      authorizeSigner: 2.5,
      revokeSigner: 2.5,
      renounceOwnership: 0.3,
    };

    // Constants, once.
    expect(await escrow.feeBps()).to.equal(FEE_BPS);
    expect(await escrow.thawingPeriod()).to.equal(THAWING_PERIOD);
    expect(await escrow.token()).to.equal(await usdc.getAddress());
    expect(lc(await escrow.owner())).to.equal(model.owner);
    await checkAll("initial state");
    try {
      for (step = 1; step <= OPS; step++) {
        let name = rng.weighted(weights);
        if (focus && name !== "timeJump" && rng.chance(0.85)) name = "withdraw"; // follow up on a thaw-end jump
        if (authorisedKeys().length === 0 && rng.chance(0.3)) name = "authorizeSigner";
        recent.push(`${step}:${name}`);
        if (recent.length > 12) recent.shift();
        await ops[name]();
        await checkAll(name);
      }
    } catch (e) {
      console.log(`      FAILED at step ${step} with INVARIANT_SEED=${SEED}; recent operations: ${recent.join(" ")}`);
      throw e;
    }

    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`      ${OPS} operations in ${seconds} s (seed ${SEED}); outcomes:`);
    for (const [k, n] of [...stats.entries()].sort()) console.log(`        ${k}: ${n}`);
  });
});
