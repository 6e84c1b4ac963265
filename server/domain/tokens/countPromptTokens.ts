import type { ChatCompletionRequest, ChatMessage } from "../chat/chatCompletionRequest";
import { countTextTokens } from "./countTextTokens";

/**
 * The prompt's size in OpenAI's chat format (the cookbook's count: 3 tokens of
 * framing per message, 1 more for a name, 3 to prime the reply), plus the tool
 * definitions and a response schema, which upstreams render into the prompt
 * too. Each text is sized by `measure`: our tokenizer (`countPromptTokens`) or
 * its UTF-8 length (`promptTokenBound`).
 */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_PER_NAME = 1;
const REPLY_PRIMING_TOKENS = 3;
/**
 * A non-text part (image, audio, file) cannot be sized without decoding it.
 * 1,105 is what OpenAI charges for a 1024×1024 image at high detail; the hold
 * is a worst case and the upstream's reported usage is what is billed.
 */
const NON_TEXT_PART_TOKENS = 1105;

type Measure = (text: string) => number;

/** The prompt as our tokenizer (cl100k) counts it: the estimate billed when an upstream reports no usage. */
export function countPromptTokens(request: ChatCompletionRequest): number {
  return measurePrompt(request, countTextTokens);
}

/**
 * A ceiling on the prompt's tokens under any tokenizer, with no tokenizer run:
 * every BPE or SentencePiece token covers at least one byte of its text, so a
 * text has at most as many tokens as UTF-8 bytes (SentencePiece's leading "▁"
 * is one more piece at most, which the per-message framing covers).
 */
export function promptTokenBound(request: ChatCompletionRequest): number {
  return measurePrompt(request, utf8Bytes);
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

function measurePrompt(request: ChatCompletionRequest, measure: Measure): number {
  let total = REPLY_PRIMING_TOKENS;
  for (const message of request.messages) total += measureMessage(message, measure);
  if (request.tools?.length) total += measure(JSON.stringify(request.tools));
  if (request.functions?.length) total += measure(JSON.stringify(request.functions));
  const format = request.response_format as { json_schema?: unknown } | null | undefined;
  if (format?.json_schema) total += measure(JSON.stringify(format.json_schema));
  return total;
}

function measureMessage(message: ChatMessage, measure: Measure): number {
  let total = TOKENS_PER_MESSAGE + measure(message.role);
  if (typeof message.name === "string" && message.name) total += TOKENS_PER_NAME + measure(message.name);
  total += measureContent(message.content, measure);
  if (message.role === "assistant") {
    for (const call of message.tool_calls ?? []) {
      total += measure(call.function?.name ?? "") + measure(call.function?.arguments ?? "");
    }
    if (message.function_call) {
      total += measure(message.function_call.name) + measure(message.function_call.arguments);
    }
  }
  return total;
}

function measureContent(content: ChatMessage["content"], measure: Measure): number {
  if (content === null || content === undefined) return 0;
  if (typeof content === "string") return measure(content);
  let total = 0;
  for (const part of content as { type: string; text?: unknown; refusal?: unknown }[]) {
    if (part.type === "text" && typeof part.text === "string") total += measure(part.text);
    else if (part.type === "refusal" && typeof part.refusal === "string") total += measure(part.refusal);
    else total += NON_TEXT_PART_TOKENS;
  }
  return total;
}
