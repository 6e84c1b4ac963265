import type http from "node:http";
import type { EchoReply } from "./echoReply";

/**
 * The demo's answers in OpenAI's Chat Completions wire format: one
 * `chat.completion` object, or a stream of `chat.completion.chunk` events that
 * share one id and `created`, one word per content chunk, the usage chunk
 * (`choices: []`) when `stream_options.include_usage` is asked, then
 * `data: [DONE]`.
 */
export interface EchoCompletion {
  id: string;
  created: number;
  model: string;
  /** `n` copies of the one reply: an echo has nothing to vary. */
  choices: number;
  reply: EchoReply;
  promptTokens: number;
}

function usageOf(completion: EchoCompletion) {
  const completionTokens = completion.reply.completionTokens * completion.choices;
  return {
    prompt_tokens: completion.promptTokens,
    completion_tokens: completionTokens,
    total_tokens: completion.promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

export function completionBody(completion: EchoCompletion): object {
  return {
    id: completion.id,
    object: "chat.completion",
    created: completion.created,
    model: completion.model,
    choices: Array.from({ length: completion.choices }, (_, index) => ({
      index,
      message: { role: "assistant", content: completion.reply.content, refusal: null },
      logprobs: null,
      finish_reason: completion.reply.finishReason,
    })),
    usage: usageOf(completion),
  };
}

export interface StreamOptions {
  includeUsage: boolean;
  /** Pause before each word, so the stream is visibly a stream. */
  wordDelayMs: number;
}

/** Writes the whole stream; stops early, quietly, when the client goes away. */
export async function streamCompletion(
  res: http.ServerResponse,
  completion: EchoCompletion,
  options: StreamOptions,
): Promise<void> {
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  const chunk = (choices: object[], usage?: object) => ({
    id: completion.id,
    object: "chat.completion.chunk",
    created: completion.created,
    model: completion.model,
    choices,
    ...(options.includeUsage ? { usage: usage ?? null } : {}),
  });
  // Whitespace stays attached to the word after it (and a trailing run is kept), so the chunks join to the content.
  const words = completion.reply.content.match(/\s*\S+|\s+$/g) ?? [];

  for (let index = 0; index < completion.choices; index++) {
    const delta = (fields: object, finishReason: string | null = null) => [
      { index, delta: fields, logprobs: null, finish_reason: finishReason },
    ];
    if (!(await send(res, chunk(delta({ role: "assistant", content: "" }))))) return;
    for (const word of words) {
      if (options.wordDelayMs > 0 && !(await pause(res, options.wordDelayMs))) return;
      if (!(await send(res, chunk(delta({ content: word }))))) return;
    }
    if (!(await send(res, chunk(delta({}, completion.reply.finishReason))))) return;
  }
  if (options.includeUsage && !(await send(res, chunk([], usageOf(completion))))) return;
  if (!(await sendRaw(res, "[DONE]"))) return;
  res.end();
}

function send(res: http.ServerResponse, event: object): Promise<boolean> {
  return sendRaw(res, JSON.stringify(event));
}

/** Resolves false once the client is gone; waits for the socket to drain when the client reads slowly. */
function sendRaw(res: http.ServerResponse, data: string): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  if (res.write(`data: ${data}\n\n`)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on("drain", onDrain);
    res.on("close", onClose);
  });
}

function pause(res: http.ServerResponse, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      res.off("close", onClose);
      resolve(!res.destroyed);
    }, ms);
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    res.once("close", onClose);
  });
}
