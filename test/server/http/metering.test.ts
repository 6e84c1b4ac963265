import { expect } from "chai";
import type { TokenBudget } from "../../../server/domain/chat/tokenBudget";
import { meterUsage } from "../../../server/domain/metering/meterUsage";
import { readReportedUsage } from "../../../server/domain/metering/reportedUsage";
import { CompletionTranscript } from "../../../server/domain/metering/completionTranscript";
import { baseUnitsToUsdc, decimalString, microsToUsdc } from "../../../server/domain/money/usdcDecimal";
import { countTextTokens } from "../../../server/domain/tokens/countTextTokens";

const budget: TokenBudget = { promptTokens: 100, maxPromptTokens: 157, maxCompletionTokens: 50, promptSizing: "tokenizer" };

describe("metering", () => {
  describe("readReportedUsage", () => {
    it("reads OpenAI's usage with its details", () => {
      expect(
        readReportedUsage({
          prompt_tokens: 10,
          completion_tokens: 5,
          total_tokens: 15,
          prompt_tokens_details: { cached_tokens: 4 },
          completion_tokens_details: { reasoning_tokens: 2 },
        })
      ).to.deep.equal({ promptTokens: 10, completionTokens: 5, cachedPromptTokens: 4, reasoningTokens: 2 });
    });

    it("rejects what it cannot believe, and clamps details to their totals", () => {
      for (const bad of [
        null,
        undefined,
        3,
        {},
        { prompt_tokens: 1 },
        { prompt_tokens: -1, completion_tokens: 1 },
        { prompt_tokens: 1.5, completion_tokens: 1 },
        { prompt_tokens: "1", completion_tokens: 1 },
        { prompt_tokens: 1e300, completion_tokens: 1 },
      ]) {
        expect(readReportedUsage(bad), JSON.stringify(bad)).to.equal(null);
      }
      expect(
        readReportedUsage({
          prompt_tokens: 3,
          completion_tokens: 1,
          prompt_tokens_details: { cached_tokens: 99 },
          completion_tokens_details: { reasoning_tokens: -4 },
        })
      ).to.deep.equal({
        promptTokens: 3,
        completionTokens: 1,
        cachedPromptTokens: 3,
        reasoningTokens: 0,
      });
    });
  });

  describe("meterUsage", () => {
    it("bills the upstream's report when there is one", () => {
      const metered = meterUsage(
        { promptTokens: 90, completionTokens: 40, cachedPromptTokens: 10, reasoningTokens: 5 },
        budget,
        () => 999
      );
      expect(metered).to.deep.equal({
        billed: { promptTokens: 90, completionTokens: 40 },
        cachedPromptTokens: 10,
        reasoningTokens: 5,
        estimated: false,
        capped: false,
      });
    });

    it("caps a report at the request's budget: the hold is never exceeded", () => {
      const metered = meterUsage(
        { promptTokens: 500, completionTokens: 500, cachedPromptTokens: 0, reasoningTokens: 0 },
        budget,
        () => 0
      );
      expect(metered.billed).to.deep.equal({ promptTokens: 157, completionTokens: 50 });
      expect(metered.capped).to.equal(true);
    });

    it("estimates from our count when the upstream reports nothing", () => {
      const metered = meterUsage(null, budget, () => 12);
      expect(metered).to.deep.include({ billed: { promptTokens: 100, completionTokens: 12 }, estimated: true });
    });
  });

  it("CompletionTranscript counts content, refusals, reasoning and tool calls, per choice", () => {
    const transcript = new CompletionTranscript();
    transcript.addDeltaChoices([
      { index: 0, delta: { content: "Hel" } },
      { index: 1, delta: { content: "Bon" } },
    ]);
    transcript.addDeltaChoices([
      { index: 0, delta: { content: "lo" } },
      { index: 1, delta: { content: "jour" } },
    ]);
    transcript.addDeltaChoices([
      {
        index: 0,
        delta: {
          reasoning_content: "thinking",
          tool_calls: [{ index: 0, function: { name: "f", arguments: '{"a":1}' } }],
        },
      },
    ]);
    transcript.addDeltaChoices([{ index: 1, delta: { refusal: "no" } }]);
    expect(transcript.countTokens()).to.equal(countTextTokens('Hellothinkingf{"a":1}') + countTextTokens("Bonjourno"));
  });

  it("countTextTokens treats special-token text as plain text", () => {
    expect(countTextTokens("<|endoftext|>")).to.be.greaterThan(1);
    expect(countTextTokens("")).to.equal(0);
  });

  it("prints money exactly from integers", () => {
    expect(decimalString(0n, 6)).to.equal("0");
    expect(baseUnitsToUsdc(250_000n)).to.equal("0.25");
    expect(baseUnitsToUsdc(1_000_000n)).to.equal("1");
    expect(baseUnitsToUsdc(1n)).to.equal("0.000001");
    expect(baseUnitsToUsdc(123_456_789_012_345_678_901n)).to.equal("123456789012345.678901");
    expect(microsToUsdc(5_500_000n)).to.equal("0.0000055");
    expect(decimalString(-1_500_000n, 6)).to.equal("-1.5");
  });
});
