import { expect } from "chai";
import { ChatCompletionRequestSchema, type ChatCompletionRequest } from "../../../server/domain/chat/chatCompletionRequest";
import { byteBoundTokenBudget, holdAmountMicros, tokenBudget } from "../../../server/domain/chat/tokenBudget";
import { SpendableHints } from "../../../server/domain/ledger/spendableHints";
import { countPromptTokens, promptTokenBound } from "../../../server/domain/tokens/countPromptTokens";
import { ACCOUNT, MODEL_ID, eventually, startGatewayHarness } from "./support/gatewayHarness";
import { seededRandom, type SeededRandom } from "./support/seededRandom";

const ALPHABETS = [
  "abcdefghijklmnopqrstuvwxyz     ,.!?\n",
  "0123456789+-*/=()[]{}",
  "日本語のテキスト中文字符한국어",
  "😀🚀🧪👩‍💻🏳️‍🌈",
  "\u0000\u0001\t\r\u00a0\u200b<|endoftext|>",
];

function randomText(random: SeededRandom, length: number): string {
  let text = "";
  for (let i = 0; i < length; i++) text += random.pick([...random.pick(ALPHABETS)]);
  return text;
}

function chat(content: string, extra: Record<string, unknown> = {}): ChatCompletionRequest {
  return ChatCompletionRequestSchema.parse({ model: MODEL_ID, messages: [{ role: "user", content }], ...extra });
}

describe("hold sizing", () => {
  describe("promptTokenBound", () => {
    it("is never below the tokenizer's count, for 500 random prompts in mixed scripts, emoji and control characters", () => {
      const random = seededRandom("prompt bound");
      for (let i = 0; i < 500; i++) {
        const request = ChatCompletionRequestSchema.parse({
          model: MODEL_ID,
          messages: [
            { role: "system", content: randomText(random, random.int(0, 200)) },
            { role: "user", name: "u1", content: [{ type: "text", text: randomText(random, random.int(0, 400)) }] },
          ],
          tools: random.chance(0.3) ? [{ type: "function", function: { name: "f", parameters: { type: "object" } } }] : undefined,
        });
        expect(promptTokenBound(request)).to.be.at.least(countPromptTokens(request));
      }
    });

    it("a byte-bound budget counts the prompt with the tokenizer only when promptTokens is read", () => {
      const request = chat("Hello there, how are you today?");
      const model = { maxOutputTokens: 100 } as Parameters<typeof byteBoundTokenBudget>[1];
      const budget = byteBoundTokenBudget(request, model);
      expect(budget.promptSizing).to.equal("byte_bound");
      expect(budget.maxPromptTokens).to.equal(promptTokenBound(request) + 32);
      expect(budget.promptTokens).to.equal(countPromptTokens(request));
      expect(budget.maxPromptTokens).to.be.greaterThan(tokenBudget(request, model, countPromptTokens(request)).maxPromptTokens);
    });
  });

  describe("SpendableHints", () => {
    it("has room only for an account reported recently with 1000× the amount", () => {
      let now = 0;
      const hints = new SpendableHints(() => now);
      expect(hints.hasRoomFor(ACCOUNT, 1n)).to.equal(false);
      hints.record(ACCOUNT, 100_000n);
      expect(hints.hasRoomFor(ACCOUNT, 100n)).to.equal(true);
      expect(hints.hasRoomFor(ACCOUNT, 101n)).to.equal(false);
      now = 10_001;
      expect(hints.hasRoomFor(ACCOUNT, 1n)).to.equal(false);
    });
  });

  describe("through the gateway", () => {
    const content = "Count the bytes of this prompt rather than its tokens, please.";
    const body = { model: MODEL_ID, messages: [{ role: "user" as const, content }], max_tokens: 16 };

    it("an account this instance knows nothing about gets a tokenizer-sized hold; one known to be far from empty a byte-bound hold", async () => {
      const h = await startGatewayHarness();
      try {
        const request = ChatCompletionRequestSchema.parse(body);
        const counted = holdAmountMicros(tokenBudget(request, h.model, countPromptTokens(request)), h.model);
        const bounded = holdAmountMicros(byteBoundTokenBudget(request, h.model), h.model);
        expect(bounded > counted).to.equal(true);

        await h.client.chat.completions.create(body);
        await h.client.chat.completions.create(body);
        expect(h.ports.ledger.reserveRequests.map((r) => r.amountMicros)).to.deep.equal([counted, bounded]);
      } finally {
        await h.close();
      }
    });

    it("a byte-bound hold the balance cannot cover is asked again at the tokenizer's size, and the request is served", async () => {
      const h = await startGatewayHarness();
      try {
        const request = ChatCompletionRequestSchema.parse(body);
        const counted = holdAmountMicros(tokenBudget(request, h.model, countPromptTokens(request)), h.model);
        const bounded = holdAmountMicros(byteBoundTokenBudget(request, h.model), h.model);
        await h.client.chat.completions.create(body); // this instance now believes the account is rich
        h.ports.ledger.reserveRequests.length = 0;
        // Another instance spent it: what is left covers the tokenizer-sized hold only.
        h.ports.ledger.setAvailableMicros(ACCOUNT, h.ports.ledger.spentMicros(ACCOUNT) + counted);

        const reply = await h.client.chat.completions.create(body);
        expect(reply.choices[0].message.content).to.be.a("string");
        expect(h.ports.ledger.reserveRequests.map((r) => r.amountMicros)).to.deep.equal([bounded, counted]);
        expect(h.ports.ledger.activeHolds()).to.deep.equal([]);

        // Nothing left: refused with the tokenizer's figure, as before.
        const refused = await h.client.chat.completions.create(body).catch((error: { status: number }) => error.status);
        expect(refused).to.equal(402);
      } finally {
        await h.close();
      }
    });

    it("with a byte-bound hold and an upstream that reports no usage, the prompt is billed at the tokenizer's count", async () => {
      const h = await startGatewayHarness({ upstreamOptions: { reportUsage: false } });
      try {
        await h.client.chat.completions.create(body);
        const reply = await h.client.chat.completions.create(body);
        const request = ChatCompletionRequestSchema.parse(body);
        expect(h.ports.ledger.reserveRequests[1].amountMicros).to.equal(
          holdAmountMicros(byteBoundTokenBudget(request, h.model), h.model),
        );
        expect(reply.usage?.prompt_tokens).to.equal(countPromptTokens(request));
        const records = [...h.ports.ledger.records.values()];
        expect(records[1].usage.promptTokens).to.equal(countPromptTokens(request));
        expect(records[1].estimated).to.equal(true);
      } finally {
        await h.close();
      }
    });

    it("a key with a tokens-per-minute limit is always counted by the tokenizer", async () => {
      const h = await startGatewayHarness({ key: { tokensPerMinute: 1_000_000 } });
      try {
        const request = ChatCompletionRequestSchema.parse(body);
        const counted = holdAmountMicros(tokenBudget(request, h.model, countPromptTokens(request)), h.model);
        for (let i = 0; i < 3; i++) await h.client.chat.completions.create(body);
        expect(h.ports.ledger.reserveRequests.map((r) => r.amountMicros)).to.deep.equal([counted, counted, counted]);
      } finally {
        await h.close();
      }
    });
  });
});

describe("an upstream call overlapping the hold", () => {
  const body = { model: MODEL_ID, messages: [{ role: "user" as const, content: "Overlap me." }], max_tokens: 16 };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it("starts while the hold is placed for an account known to have ample room, and only then", async () => {
    const h = await startGatewayHarness({ ledgerLatencyMs: 300 });
    try {
      // Unknown account: the upstream is called only once the hold is placed.
      const first = h.client.chat.completions.create(body);
      await sleep(150);
      expect(h.upstreams[0].chatRequests, "no upstream call before the first hold").to.have.length(0);
      await first;

      // Known to be rich now: the upstream call starts alongside the hold.
      const second = h.client.chat.completions.create(body);
      await sleep(150);
      expect(h.upstreams[0].chatRequests, "the upstream is called while the hold is in flight").to.have.length(2);
      const reply = await second;
      expect(reply.choices[0].message.content).to.be.a("string");
      await eventually(() => h.ports.ledger.records.size === 2);
      expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
    } finally {
      await h.close();
    }
  });

  for (const stream of [false, true]) {
    it(`a hold refused after its ${stream ? "stream" : "request"} started upstream: 402, nothing sent but the error, nothing billed or held, the upstream call cancelled`, async () => {
      const h = await startGatewayHarness({ ledgerLatencyMs: 100 });
      try {
        await h.client.chat.completions.create(body);
        const mock = h.upstreams[0];
        mock.setFault({ kind: "slowFirstByte", delayMs: 2_000 });
        // Another instance spent everything: this instance still believes the account is rich.
        h.ports.ledger.setAvailableMicros(ACCOUNT, h.ports.ledger.spentMicros(ACCOUNT));

        const res = await fetch(`${h.gateway.url}/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${h.secret}`, "content-type": "application/json" },
          body: JSON.stringify({ ...body, stream }),
        });
        expect(res.status).to.equal(402);
        expect(res.headers.get("content-type")).to.match(/^application\/json/);
        expect(((await res.json()) as { error: { code: string } }).error.code).to.equal("insufficient_balance");
        expect(mock.chatRequests, "the upstream call had started").to.have.length(2);
        await eventually(() => mock.abortedByClient === 1);
        expect(h.ports.ledger.records.size).to.equal(1);
        expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
      } finally {
        await h.close();
      }
    });
  }
});
