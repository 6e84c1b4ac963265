import { expect } from "chai";
import { ChatCompletionRequestSchema } from "../../../server/domain/chat/chatCompletionRequest";
import { holdAmountMicros, tokenBudget } from "../../../server/domain/chat/tokenBudget";
import { countPromptTokens } from "../../../server/domain/tokens/countPromptTokens";
import { ACCOUNT, MODEL_ID, startGatewayHarness } from "./support/gatewayHarness";

describe("concurrent requests against one balance", () => {
  it("200 simultaneous requests on a balance that covers 20 serve 20; spend never exceeds the balance", async () => {
    const h = await startGatewayHarness({
      upstreamOptions: { ignoreMaxTokens: true },
      env: { UPSTREAM_FIRST_BYTE_TIMEOUT_MS: "10000" },
    });
    try {
      const body = { model: MODEL_ID, messages: [{ role: "user" as const, content: "spend it" }], max_tokens: 10 };
      const request = ChatCompletionRequestSchema.parse(body);
      const hold = holdAmountMicros(tokenBudget(request, h.model, countPromptTokens(request)), h.model);
      h.ports.ledger.setAvailableMicros(ACCOUNT, hold * 20n);
      // Slow enough that every request has asked for its hold before the first one is billed.
      h.upstreams[0].setFault({ kind: "slowFirstByte", delayMs: 1500 });

      const client = h.sdk({ maxRetries: 0 });
      const results = await Promise.all(
        Array.from({ length: 200 }, () =>
          client.chat.completions.create(body).then(
            () => 200,
            (e) => e.status as number
          )
        )
      );
      const served = results.filter((s) => s === 200).length;
      expect(served).to.equal(20);
      expect(results.filter((s) => s === 402)).to.have.length(180);
      expect(h.ports.ledger.records.size).to.equal(20);
      expect(h.ports.ledger.spentMicros(ACCOUNT) <= hold * 20n).to.equal(true);
      expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
      expect(h.upstreams[0].chatRequests).to.have.length(20);
    } finally {
      await h.close();
    }
  });
});
