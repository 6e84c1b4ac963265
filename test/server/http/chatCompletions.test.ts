import { expect } from "chai";
import { countPromptTokens } from "../../../server/domain/tokens/countPromptTokens";
import { countTextTokens } from "../../../server/domain/tokens/countTextTokens";
import { holdAmountMicros, tokenBudget } from "../../../server/domain/chat/tokenBudget";
import { ChatCompletionRequestSchema } from "../../../server/domain/chat/chatCompletionRequest";
import { costMicros } from "../../../server/domain/types";
import { type GatewayHarness, MODEL_ID, startGatewayHarness } from "./support/gatewayHarness";

const ask = { model: MODEL_ID, messages: [{ role: "user" as const, content: "hello there world" }] };

describe("non-stream chat completions", () => {
  let h: GatewayHarness;
  afterEach(async () => {
    await h?.close();
  });

  const onlyRecord = () => {
    expect(h.ports.ledger.records.size).to.equal(1);
    return [...h.ports.ledger.records.values()][0];
  };

  it("returns the upstream's completion with the network's model id, and bills its usage exactly", async () => {
    h = await startGatewayHarness();
    const completion = await h.client.chat.completions.create(ask);
    expect(completion).to.deep.include({
      id: "chatcmpl-mock1",
      object: "chat.completion",
      model: MODEL_ID,
      system_fingerprint: "fp_mock",
    });
    expect(completion.choices[0]).to.deep.include({
      index: 0,
      finish_reason: "stop",
      message: { role: "assistant", content: "Echo: hello there world" },
    });
    expect(completion.usage).to.deep.include({ prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 });

    const record = onlyRecord();
    expect(record).to.deep.include({
      modelId: MODEL_ID,
      upstreamId: "upstream-0",
      usage: { promptTokens: 6, completionTokens: 4 },
      estimated: false,
      outcome: "completed",
      stream: false,
    });
    expect(record.costMicros).to.equal(costMicros({ promptTokens: 6, completionTokens: 4 }, h.model));
    expect(record.costMicros).to.equal(6n * 250_000n + 4n * 1_000_000n);
    expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
  });

  it("passes every field through untouched, unknown ones included, with the upstream's model name", async () => {
    h = await startGatewayHarness();
    const body = {
      ...ask,
      temperature: 0.2,
      top_p: 0.9,
      n: 2,
      seed: 7,
      stop: ["\n\n"],
      logprobs: true,
      top_logprobs: 2,
      response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } },
      tools: [{ type: "function", function: { name: "f", parameters: { type: "object" } } }],
      tool_choice: "auto",
      user: "u-1",
      metadata: { a: "b" },
      top_k: 40,
      repetition_penalty: 1.1,
      some_future_field: { nested: [1, { deep: true }] },
    };
    await h.client.chat.completions.create(body as any);
    const sent = h.upstreams[0].chatRequests[0].body;
    expect(sent).to.deep.equal({ ...body, model: "mock-model" });
  });

  it("passes tool calls back as the upstream made them", async () => {
    h = await startGatewayHarness();
    const completion = await h.client.chat.completions.create({
      ...ask,
      tools: [{ type: "function", function: { name: "lookup", parameters: { type: "object" } } }],
      tool_choice: { type: "function", function: { name: "lookup" } },
    });
    expect(completion.choices[0].finish_reason).to.equal("tool_calls");
    const call = completion.choices[0].message.tool_calls![0] as any;
    expect(call.function).to.deep.equal({ name: "lookup", arguments: '{"echo":"hello there world"}' });
  });

  it("passes cached and reasoning token details to the client and records them, billing neither twice", async () => {
    h = await startGatewayHarness({ upstreamOptions: { cachedTokens: 4, reasoningTokens: 2 } });
    const completion = await h.client.chat.completions.create(ask);
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).to.equal(4);
    expect(completion.usage?.completion_tokens_details?.reasoning_tokens).to.equal(2);
    const record = onlyRecord();
    expect(record).to.include({ cachedPromptTokens: 4, reasoningTokens: 2 });
    expect(record.costMicros).to.equal(costMicros({ promptTokens: 6, completionTokens: 4 }, h.model));
  });

  it("counts with the tokenizer when the upstream reports no usage, marks it estimated, and returns that usage", async () => {
    h = await startGatewayHarness({ upstreamOptions: { reportUsage: false } });
    const completion = await h.client.chat.completions.create(ask);
    const request = ChatCompletionRequestSchema.parse(ask);
    const prompt = countPromptTokens(request);
    const completionTokens = countTextTokens("Echo: hello there world");
    expect(completion.usage).to.deep.equal({
      prompt_tokens: prompt,
      completion_tokens: completionTokens,
      total_tokens: prompt + completionTokens,
    });
    expect(onlyRecord()).to.deep.include({ estimated: true, usage: { promptTokens: prompt, completionTokens } });
  });

  it("never bills more completion tokens than max_tokens × n, whatever the upstream generates", async () => {
    h = await startGatewayHarness({ upstreamOptions: { ignoreMaxTokens: true } });
    const completion = await h.client.chat.completions.create({ ...ask, max_tokens: 5 });
    expect(completion.usage?.completion_tokens, "the upstream's own report passes through").to.equal(15);
    expect(onlyRecord().usage.completionTokens).to.equal(5);
  });

  it("holds the worst case: counted prompt (with headroom) plus max completion tokens × n at the model's rates", async () => {
    h = await startGatewayHarness();
    const body = { ...ask, max_completion_tokens: 100, max_tokens: 999, n: 3 };
    const request = ChatCompletionRequestSchema.parse(body);
    const budget = tokenBudget(request, h.model, countPromptTokens(request));
    expect(budget.maxCompletionTokens).to.equal(300);
    expect(budget.maxPromptTokens).to.equal(budget.promptTokens + Math.ceil(budget.promptTokens / 4) + 32);
    const hold = holdAmountMicros(budget, h.model);
    expect(hold).to.equal(BigInt(budget.maxPromptTokens) * 250_000n + 300n * 1_000_000n);

    // A balance one micro-unit short of the hold is refused; exactly the hold is enough.
    const short = await startGatewayHarness();
    try {
      const { secret } = short.ports.apiKeys.create({ account: "0x0000000000000000000000000000000000000c01" });
      short.ports.ledger.setAvailableMicros("0x0000000000000000000000000000000000000c01", hold - 1n);
      const refused = await short
        .sdk({ apiKey: secret })
        .chat.completions.create(body)
        .catch((e) => e);
      expect(refused.status).to.equal(402);
      short.ports.ledger.setAvailableMicros("0x0000000000000000000000000000000000000c01", hold);
      const served = await short.sdk({ apiKey: secret }).chat.completions.create(body);
      expect(served.choices).to.have.length(3);
    } finally {
      await short.close();
    }
  });

  it("uses the model's max output when the request names no limit, and caps a larger request at it", async () => {
    h = await startGatewayHarness({ model: { maxOutputTokens: 64 } });
    const none = ChatCompletionRequestSchema.parse(ask);
    expect(tokenBudget(none, h.model, 10).maxCompletionTokens).to.equal(64);
    const larger = ChatCompletionRequestSchema.parse({ ...ask, max_tokens: 10_000 });
    expect(tokenBudget(larger, h.model, 10).maxCompletionTokens).to.equal(64);
  });

  it("answers with x-request-id: the client's when sane, ours otherwise; and ours is the ledger's key", async () => {
    h = await startGatewayHarness();
    const echoed = await h.client.chat.completions
      .create(ask, { headers: { "x-request-id": "client-req.42:a_b-c" } })
      .withResponse();
    expect(echoed.response.headers.get("x-request-id")).to.equal("client-req.42:a_b-c");
    const ours = echoed.response.headers.get("x-shareai-request-id");
    expect(h.ports.ledger.records.has(ours!)).to.equal(true);

    for (const insane of ["has spaces in it", "x".repeat(129), "semi;colon", "<script>"]) {
      const res = await h.client.chat.completions.create(ask, { headers: { "x-request-id": insane } }).withResponse();
      const id = res.response.headers.get("x-request-id");
      expect(id).to.match(/^[0-9a-f-]{36}$/);
      expect(h.ports.ledger.records.has(id!)).to.equal(true);
    }
  });

  it("two requests with the same client x-request-id are billed separately", async () => {
    h = await startGatewayHarness();
    await h.client.chat.completions.create(ask, { headers: { "x-request-id": "same" } });
    await h.client.chat.completions.create(ask, { headers: { "x-request-id": "same" } });
    expect(h.ports.ledger.records.size).to.equal(2);
  });
});
