import { expect } from "chai";
import {
  MAX_CUMULATIVE_BASE,
  MICROS_PER_BASE,
  cumulativeAmountOf,
  decideVoucher,
  voucherIncrementBase,
  type VoucherDueInput,
} from "../../../server/settlement/cumulative";
import { prngOf, seedFromEnv } from "./helpers/prng";

const SEED = seedFromEnv();

describe(`settlement/cumulative (SETTLEMENT_SEED=${SEED})`, function () {
  describe("cumulativeAmountOf", function () {
    it("rounds down and carries the rest", function () {
      // Three requests of 0.4 base units each: 1.2 metered, 1 charged, 0.2 carried.
      expect(cumulativeAmountOf(1_200_000n)).to.deep.equal({ cumulativeAmountBase: 1n, carriedMicros: 200_000n });
    });

    it("is exact, rounds down and carries less than one base unit, for every total up to 3 base units", function () {
      for (let total = 0n; total <= 3n * MICROS_PER_BASE; total++) {
        const { cumulativeAmountBase, carriedMicros } = cumulativeAmountOf(total);
        if (cumulativeAmountBase * MICROS_PER_BASE + carriedMicros !== total || carriedMicros >= MICROS_PER_BASE) {
          expect.fail(`total ${total} split into ${cumulativeAmountBase} base + ${carriedMicros} micros`);
        }
      }
    });

    it("charges a base unit only once it has been metered in full", function () {
      expect(cumulativeAmountOf(999_999n).cumulativeAmountBase).to.equal(0n);
      expect(cumulativeAmountOf(1_000_000n).cumulativeAmountBase).to.equal(1n);
      expect(cumulativeAmountOf(1_999_999n).cumulativeAmountBase).to.equal(1n);
    });

    it("handles totals up to the escrow's uint128 limit, and refuses one past it", function () {
      const largest = (MAX_CUMULATIVE_BASE + 1n) * MICROS_PER_BASE - 1n;
      expect(cumulativeAmountOf(largest)).to.deep.equal({
        cumulativeAmountBase: MAX_CUMULATIVE_BASE,
        carriedMicros: MICROS_PER_BASE - 1n,
      });
      expect(() => cumulativeAmountOf(largest + 1n)).to.throw(RangeError, /uint128/);
    });

    it("refuses a negative total", function () {
      expect(() => cumulativeAmountOf(-1n)).to.throw(RangeError);
    });

    it("is exact for random huge totals", function () {
      const random = prngOf(SEED);
      for (let i = 0; i < 10_000; i++) {
        const total = random.bits(1 + random.below(147)); // up to 2^147 > 2^128 · 10^6 is refused below
        const fits = total / MICROS_PER_BASE <= MAX_CUMULATIVE_BASE;
        if (!fits) {
          expect(() => cumulativeAmountOf(total)).to.throw(RangeError);
          continue;
        }
        const { cumulativeAmountBase, carriedMicros } = cumulativeAmountOf(total);
        expect(cumulativeAmountBase * MICROS_PER_BASE + carriedMicros).to.equal(total);
        expect(carriedMicros < MICROS_PER_BASE && carriedMicros >= 0n).to.equal(true);
      }
    });
  });

  describe("voucherIncrementBase", function () {
    it("is what the new floor adds to the previous voucher", function () {
      expect(voucherIncrementBase(0n, 2_500_000n)).to.equal(2n);
      expect(voucherIncrementBase(2n, 2_999_999n)).to.equal(0n);
      expect(voucherIncrementBase(2n, 3_000_000n)).to.equal(1n);
    });

    it("refuses a metered total below the previous voucher (a ledger that went backwards)", function () {
      expect(() => voucherIncrementBase(3n, 2_999_999n)).to.throw(RangeError, /below the previous voucher/);
    });

    it("adds up, voucher after voucher, to exactly the floor of the total: nothing lost, nothing early", function () {
      const random = prngOf(SEED ^ 0x5eed);
      for (let run = 0; run < 200; run++) {
        let meteredMicros = 0n;
        let previousCumulativeBase = 0n;
        let chargedBase = 0n;
        const requests = 1 + random.below(300);
        for (let r = 0; r < requests; r++) {
          // Mostly sub-base-unit requests (where rounding matters), sometimes huge ones.
          meteredMicros += random.below(10) === 0 ? random.bits(96) : BigInt(random.below(2_000_000));
          if (random.below(4) !== 0) continue; // the worker does not build a voucher after every request
          const increment = voucherIncrementBase(previousCumulativeBase, meteredMicros);
          expect(increment >= 0n).to.equal(true);
          chargedBase += increment;
          previousCumulativeBase += increment;
          // Never charged more than metered, never more than one base unit behind.
          expect(chargedBase * MICROS_PER_BASE <= meteredMicros).to.equal(true);
          expect(meteredMicros - chargedBase * MICROS_PER_BASE < MICROS_PER_BASE).to.equal(true);
        }
        chargedBase += voucherIncrementBase(previousCumulativeBase, meteredMicros);
        expect(chargedBase, `run ${run}`).to.equal(meteredMicros / MICROS_PER_BASE);
        expect(meteredMicros - chargedBase * MICROS_PER_BASE).to.equal(cumulativeAmountOf(meteredMicros).carriedMicros);
      }
    });

    it("charges more than rounding each request down would (the remainders are carried, not dropped)", function () {
      const perRequestMicros = 400_000n; // 0.4 base units
      let perRequestRounding = 0n;
      let total = 0n;
      for (let i = 0; i < 10; i++) {
        perRequestRounding += perRequestMicros / MICROS_PER_BASE;
        total += perRequestMicros;
      }
      expect(perRequestRounding).to.equal(0n);
      expect(voucherIncrementBase(0n, total)).to.equal(4n);
    });
  });

  describe("decideVoucher", function () {
    const base: VoucherDueInput = {
      previousCumulativeBase: 10n,
      totalMicros: 15_000_000n,
      oldestPendingReceiptAt: 1_000,
      now: 1_100,
      thresholdBase: 5n,
      intervalSeconds: 3_600,
    };

    it("builds once the increment reaches the threshold", function () {
      expect(decideVoucher(base)).to.deep.equal({ build: true, reason: "threshold", incrementBase: 5n });
    });

    it("waits below the threshold until the oldest pending receipt is an interval old", function () {
      const small = { ...base, totalMicros: 14_999_999n };
      expect(decideVoucher(small)).to.deep.equal({ build: false, reason: "waiting", incrementBase: 4n });
      expect(decideVoucher({ ...small, now: 4_599 }).build).to.equal(false);
      expect(decideVoucher({ ...small, now: 4_600 })).to.deep.equal({
        build: true,
        reason: "interval",
        incrementBase: 4n,
      });
    });

    it("never builds a voucher that adds nothing, however long its receipts have waited", function () {
      const dust = { ...base, totalMicros: 10_999_999n, now: 1_000_000 };
      expect(decideVoucher(dust)).to.deep.equal({ build: false, reason: "nothing_due", incrementBase: 0n });
      expect(decideVoucher({ ...dust, thresholdBase: 0n }).build).to.equal(false);
    });

    it("builds on any increment when the threshold is zero", function () {
      expect(decideVoucher({ ...base, totalMicros: 11_000_000n, thresholdBase: 0n }).reason).to.equal("threshold");
    });

    it("counts no waiting time when there is no pending receipt", function () {
      const none = { ...base, totalMicros: 11_000_000n, oldestPendingReceiptAt: null, now: 1_000_000 };
      expect(decideVoucher(none).reason).to.equal("waiting");
    });

    it("refuses a metered total that went backwards", function () {
      expect(() => decideVoucher({ ...base, totalMicros: 9_999_999n })).to.throw(RangeError);
    });
  });
});
