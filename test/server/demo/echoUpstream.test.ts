import { expect } from "chai";
import OpenAI from "openai";
import { ChatCompletionRequestSchema } from "../../../server/domain/chat/chatCompletionRequest";
import { countPromptTokens } from "../../../server/domain/tokens/countPromptTokens";
import { countTextTokens } from "../../../server/domain/tokens/countTextTokens";
import { DEMO_MODEL } from "../../../server/demo/demoModel";
import { truncateToTokens } from "../../../server/demo/echoReply";
import { startEchoUpstream, type EchoUpstream } from "../../../server/demo/echoUpstream";

const MODEL = DEMO_MODEL.id;

describe("demo echo upstream", () => {
  let echo: EchoUpstream;
  let client: OpenAI;

  before(async () => {
    echo = await startEchoUpstream({ wordDelayMs: 0 });
    client = new OpenAI({ baseURL: echo.baseUrl, apiKey: "unused", maxRetries: 0 });
  });
  after(() => echo.close());

  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${echo.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  it("listens on 127.0.0.1 and lists its one model, named as a demo", async () => {
    expect(echo.baseUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = await client.models.list();
    expect(models.data).to.deep.equal([
      { id: MODEL, object: "model", created: DEMO_MODEL.created, owned_by: "shareai-demo" },
    ]);
    expect((await client.models.retrieve(MODEL)).id).to.equal(MODEL);
  });

  it("echoes the last user message and reports usage counted with the gateway's tokenizer", async () => {
    const request = {
      model: MODEL,
      messages: [
        { role: "system" as const, content: "You are terse." },
        { role: "user" as const, content: "first question" },
        { role: "assistant" as const, content: "first answer" },
        { role: "user" as const, content: "Hello, demo! Ünïcödé too." },
      ],
    };
    const completion = await client.chat.completions.create(request);
    const content = "You said: Hello, demo! Ünïcödé too.";
    expect(completion).to.deep.include({ object: "chat.completion", model: MODEL });
    expect(completion.id).to.match(/^chatcmpl-/);
    expect(completion.choices).to.deep.equal([
      { index: 0, message: { role: "assistant", content, refusal: null }, logprobs: null, finish_reason: "stop" },
    ]);
    const promptTokens = countPromptTokens(ChatCompletionRequestSchema.parse(request));
    const completionTokens = countTextTokens(content);
    expect(completion.usage).to.deep.equal({
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
  });

  it("streams word by word with one id, a usage chunk only when asked, then [DONE]", async () => {
    const request = { model: MODEL, messages: [{ role: "user" as const, content: "stream these four words" }] };
    const chunks = [];
    for await (const chunk of await client.chat.completions.create({
      ...request,
      stream: true,
      stream_options: { include_usage: true },
    })) {
      chunks.push(chunk);
    }
    expect(new Set(chunks.map((c) => c.id)).size).to.equal(1);
    expect(new Set(chunks.map((c) => c.created)).size).to.equal(1);
    const contentChunks = chunks.filter((c) => c.choices[0]?.delta.content);
    expect(contentChunks.map((c) => c.choices[0].delta.content)).to.deep.equal([
      "You",
      " said:",
      " stream",
      " these",
      " four",
      " words",
    ]);
    expect(chunks[0].choices[0].delta).to.deep.equal({ role: "assistant", content: "" });
    const last = chunks[chunks.length - 1];
    expect(last.choices).to.deep.equal([]);
    expect(last.usage).to.deep.include({
      prompt_tokens: countPromptTokens(ChatCompletionRequestSchema.parse(request)),
      completion_tokens: countTextTokens("You said: stream these four words"),
    });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).to.equal(true);
    expect(chunks[chunks.length - 2].choices[0].finish_reason).to.equal("stop");

    const raw = await (await post({ ...request, stream: true })).text();
    expect(raw.trimEnd().endsWith("data: [DONE]")).to.equal(true);
    expect(raw).to.not.include('"usage"');
  });

  it("honours max_tokens and max_completion_tokens, ending with finish_reason length", async () => {
    const long = "one two three four five six seven eight nine ten";
    for (const limit of [{ max_tokens: 4 }, { max_completion_tokens: 4 }]) {
      const completion = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: long }],
        ...limit,
      });
      expect(completion.choices[0].message.content).to.equal("You said: one");
      expect(completion.choices[0].finish_reason).to.equal("length");
      expect(completion.usage!.completion_tokens).to.equal(4);
    }
    let streamed = "";
    let usage;
    for await (const chunk of await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: long }],
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    })) {
      streamed += chunk.choices[0]?.delta.content ?? "";
      usage = chunk.usage ?? usage;
    }
    expect(streamed).to.equal("You said: one two");
    expect(usage!.completion_tokens).to.equal(5);
  });

  it("never answers longer than the model's max output, whatever the request asks", async () => {
    const echo2 = await startEchoUpstream({ wordDelayMs: 0, model: { ...DEMO_MODEL, maxOutputTokens: 6 } });
    try {
      const completion = await new OpenAI({ baseURL: echo2.baseUrl, apiKey: "x" }).chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "a b c d e f g h i j k l" }],
        max_tokens: 1000,
      });
      expect(completion.usage!.completion_tokens).to.equal(6);
      expect(completion.choices[0].finish_reason).to.equal("length");
    } finally {
      await echo2.close();
    }
  });

  it("cuts a word in the middle when not even one more whole word fits, and never exceeds the limit", () => {
    const word = "supercalifragilisticexpialidocious";
    const cut = truncateToTokens(`You said: ${word}`, 5);
    expect(countTextTokens(cut)).to.be.at.most(5);
    expect(cut.startsWith("You said: s")).to.equal(true);
    expect(`You said: ${word}`.startsWith(cut)).to.equal(true);
    for (let limit = 0; limit < 40; limit++) {
      expect(countTextTokens(truncateToTokens("Grüße, 世界! emoji 🎉🎉 and more words here", limit))).to.be.at.most(
        limit,
      );
    }
  });

  it("stops before a stop sequence, and serves n identical choices billed n times", async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "alpha. beta. gamma." }],
      stop: [". g", "beta"],
      n: 3,
    });
    expect(completion.choices.map((c) => c.message.content)).to.deep.equal(Array(3).fill("You said: alpha. "));
    expect(completion.choices.map((c) => c.finish_reason)).to.deep.equal(["stop", "stop", "stop"]);
    expect(completion.usage!.completion_tokens).to.equal(3 * countTextTokens("You said: alpha. "));
  });

  it("says what a non-text part was rather than dropping it", async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "look:" },
            { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
          ],
        },
      ],
    });
    expect(completion.choices[0].message.content).to.equal("You said: look:\n[image_url]");
  });

  it("answers mistakes with OpenAI error bodies", async () => {
    const cases: [Response, number, string, string | null][] = [
      [await post("{not json"), 400, "invalid_request_error", null],
      [await post({ model: MODEL, messages: [] }), 400, "invalid_request_error", "messages"],
      [await post({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }), 404, "model_not_found", "model"],
      [await fetch(`${echo.baseUrl}/responses`, { method: "POST", body: "{}" }), 404, "unknown_url", null],
      [await fetch(`${echo.baseUrl}/models/nope`), 404, "model_not_found", "model"],
    ];
    for (const [response, status, code, param] of cases) {
      expect(response.status).to.equal(status);
      expect(response.headers.get("content-type")).to.equal("application/json");
      const body = (await response.json()) as { error: { code: string; param: string | null; message: string } };
      expect(body.error.code).to.equal(code);
      expect(body.error.param).to.equal(param);
      expect(body.error.message).to.be.a("string").and.not.equal("");
    }
  });

  it("refuses a body over its limit with 413", async () => {
    const small = await startEchoUpstream({ maxBodyBytes: 1024 });
    try {
      const response = await fetch(`${small.baseUrl}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "x".repeat(5000) }] }),
      });
      expect(response.status).to.equal(413);
      expect(((await response.json()) as { error: { code: string } }).error.code).to.equal("request_too_large");
    } finally {
      await small.close();
    }
  });

  it("close() ends a stream in flight at once instead of waiting for it", async () => {
    const slow = await startEchoUpstream({ wordDelayMs: 200 });
    const response = await fetch(`${slow.baseUrl}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: "user", content: "a b c d e f g h" }] }),
    });
    const reader = response.body!.getReader();
    await reader.read();
    const started = Date.now();
    await slow.close();
    expect(Date.now() - started).to.be.below(500);
    let ended = false;
    try {
      while (!(await reader.read()).done);
      ended = true;
    } catch {
      ended = true;
    }
    expect(ended).to.equal(true);
  });
});
