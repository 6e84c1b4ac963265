import { expect } from "chai";
import { AmountError, parseBaseUnits } from "../../../server/cli/money";

describe("CLI amounts (parseBaseUnits)", () => {
  it("reads a whole number as base units", () => {
    expect(parseBaseUnits("0")).to.equal(0n);
    expect(parseBaseUnits("1")).to.equal(1n);
    expect(parseBaseUnits("250000")).to.equal(250_000n);
    expect(parseBaseUnits("1_500_000")).to.equal(1_500_000n);
    expect(parseBaseUnits(" 42 ")).to.equal(42n);
  });

  it("reads a number with a decimal point as USDC, exactly", () => {
    expect(parseBaseUnits("1.5")).to.equal(1_500_000n);
    expect(parseBaseUnits("0.25")).to.equal(250_000n);
    expect(parseBaseUnits("1.0")).to.equal(1_000_000n);
    expect(parseBaseUnits("0.000001")).to.equal(1n);
    expect(parseBaseUnits("0.1")).to.equal(100_000n);
    // 0.1 + 0.2 in floats is 0.30000000000000004: strings never go through floats.
    expect(parseBaseUnits("0.3")).to.equal(300_000n);
    expect(parseBaseUnits("123456789012345678901234567890.123456")).to.equal(123456789012345678901234567890123456n);
  });

  it("reads a usdc suffix as USDC, whole or decimal", () => {
    expect(parseBaseUnits("2usdc")).to.equal(2_000_000n);
    expect(parseBaseUnits("0.5 USDC")).to.equal(500_000n);
    expect(parseBaseUnits("10 usdc")).to.equal(10_000_000n);
  });

  it("refuses what is not an exact, non-negative amount, saying how to write one", () => {
    for (const bad of [
      "",
      " ",
      "-1",
      "-0.5",
      "1.2.3",
      "1e6",
      "0x10",
      "1,5",
      ".5",
      "5.",
      "1.1234567",
      "abc",
      "+1",
      "NaN",
      "Infinity",
      "1 000",
      "1__0",
      "_1",
    ]) {
      expect(() => parseBaseUnits(bad), bad).to.throw(
        AmountError,
        /is not an amount: .*\(write base units like 1500000/,
      );
    }
    expect(() => parseBaseUnits("1.1234567")).to.throw(/USDC has 6 decimals, and this has 7/);
    expect(() => parseBaseUnits("-1")).to.throw(/cannot be negative/);
  });

  it("accepts up to the largest uint256 and no more", () => {
    const max = (1n << 256n) - 1n;
    expect(parseBaseUnits(max.toString())).to.equal(max);
    expect(() => parseBaseUnits((max + 1n).toString())).to.throw(/larger than any uint256/);
  });
});
