import { expect } from "chai";
import { formatResetDuration } from "../../../server/domain/rateLimit";

describe("formatResetDuration (OpenAI's x-ratelimit-reset-* format)", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [1, "1ms"],
    [20, "20ms"],
    [999, "999ms"],
    [1000, "1s"],
    [1500, "1.5s"],
    [6000, "6s"],
    [8640, "8.64s"],
    [17_326, "17.326s"],
    [59_999, "59.999s"],
    [60_000, "1m0s"],
    [90_061, "1m30.061s"],
    [3_600_000, "1h0m0s"],
    [3_723_040, "1h2m3.04s"],
  ];
  for (const [ms, text] of cases) {
    it(`${ms} ms is "${text}"`, () => expect(formatResetDuration(ms)).to.equal(text));
  }
});
