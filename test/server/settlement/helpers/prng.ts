import { randomBytes } from "node:crypto";

/** A seed from SETTLEMENT_SEED, or a fresh random one; print it so a failing run can be replayed. */
export function seedFromEnv(): number {
  const fromEnv = process.env.SETTLEMENT_SEED;
  return fromEnv ? Number(fromEnv) >>> 0 : randomBytes(4).readUInt32BE(0);
}

/** mulberry32: small, fast, and reproducible from a 32-bit seed; not for anything secret. */
export function prngOf(seed: number) {
  let state = seed >>> 0;
  const next32 = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  /** A uniform bigint below 2^bits. */
  const bits = (count: number): bigint => {
    let value = 0n;
    for (let produced = 0; produced < count; produced += 32) value = (value << 32n) | BigInt(next32());
    return value & ((1n << BigInt(count)) - 1n);
  };
  /** An integer in [0, bound). */
  const below = (bound: number): number => next32() % bound;
  return { next32, bits, below };
}
