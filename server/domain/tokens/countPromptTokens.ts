import type { ChatCompletionRequest, ChatMessage } from "../chat/chatCompletionRequest";
import { countTextTokens } from "./countTextTokens";

/**
 * The prompt's size in tokens, in OpenAI's chat format (the cookbook's
 * count: 3 tokens of framing per message, 1 more for a name, 3 to prime the
 * reply), plus the tool definitions and a response schema, which upstreams
 * render into the prompt too.
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

export function countPromptTokens(request: ChatCompletionRequest): number {
  let total = REPLY_PRIMING_TOKENS;
  for (const message of request.messages) total += countMessageTokens(message);
  if (request.tools?.length) total += countTextTokens(JSON.stringify(request.tools));
  if (request.functions?.length) total += countTextTokens(JSON.stringify(request.functions));
  const format = request.response_format as { json_schema?: unknown } | null | undefined;
  if (format?.json_schema) total += countTextTokens(JSON.stringify(format.json_schema));
  return total;
}

function countMessageTokens(message: ChatMessage): number {
  let total = TOKENS_PER_MESSAGE + countTextTokens(message.role);
  if (typeof message.name === "string" && message.name) total += TOKENS_PER_NAME + countTextTokens(message.name);
  total += countContentTokens(message.content);
  if (message.role === "assistant") {
    for (const call of message.tool_calls ?? []) {
      total += countTextTokens(call.function?.name ?? "") + countTextTokens(call.function?.arguments ?? "");
    }
    if (message.function_call) {
      total += countTextTokens(message.function_call.name) + countTextTokens(message.function_call.arguments);
    }
  }
  return total;
}

function countContentTokens(content: ChatMessage["content"]): number {
  if (content === null || content === undefined) return 0;
  if (typeof content === "string") return countTextTokens(content);
  let total = 0;
  for (const part of content as { type: string; text?: unknown; refusal?: unknown }[]) {
    if (part.type === "text" && typeof part.text === "string") total += countTextTokens(part.text);
    else if (part.type === "refusal" && typeof part.refusal === "string") total += countTextTokens(part.refusal);
    else total += NON_TEXT_PART_TOKENS;
  }
  return total;
}
