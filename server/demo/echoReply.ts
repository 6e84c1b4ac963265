import type { ChatCompletionRequest, ChatMessage } from "../domain/chat/chatCompletionRequest";
import { countTextTokens } from "../domain/tokens/countTextTokens";

/**
 * What the demo model answers: "You said: " and the last user message, cut
 * at the first stop sequence and at the request's token limit, with token
 * counts from the gateway's own tokenizer, so the usage it reports is exactly
 * what the gateway would count.
 */
export interface EchoReply {
  content: string;
  finishReason: "stop" | "length";
  /** Tokens of `content` (one choice). */
  completionTokens: number;
}

export function echoReply(request: ChatCompletionRequest, maxOutputTokens: number): EchoReply {
  const limit = Math.min(request.max_completion_tokens ?? request.max_tokens ?? maxOutputTokens, maxOutputTokens);
  const text = cutAtStop(`You said: ${lastUserText(request.messages)}`, request.stop);
  const content = truncateToTokens(text, limit);
  return {
    content,
    // A stop sequence ends a reply as "stop", as OpenAI reports it; only the token limit is "length".
    finishReason: content.length < text.length ? "length" : "stop",
    completionTokens: countTextTokens(content),
  };
}

function lastUserText(messages: ChatMessage[]): string {
  const last = [...messages].reverse().find((message) => message.role === "user");
  if (!last) return "(no user message)";
  const content = last.content as string | { type: string; text?: string }[];
  if (typeof content === "string") return content;
  // A part that is not text cannot be echoed; say what it was rather than drop it silently.
  return content.map((part) => (part.type === "text" ? part.text ?? "" : `[${part.type}]`)).join("\n");
}

/** The text before the first stop sequence (which OpenAI does not include in the reply). */
function cutAtStop(text: string, stop: ChatCompletionRequest["stop"]): string {
  const sequences = (typeof stop === "string" ? [stop] : stop ?? []).filter((s) => s.length > 0);
  let end = text.length;
  for (const sequence of sequences) {
    const at = text.indexOf(sequence);
    if (at !== -1 && at < end) end = at;
  }
  return text.slice(0, end);
}

/**
 * The longest prefix of `text` that is at most `limit` tokens: whole words
 * first, then as many characters of the next word as still fit. Searching by
 * halving keeps a long message to a few dozen tokenizer calls; the final
 * check holds even where a tokenizer's counts are not monotonic in the prefix.
 */
export function truncateToTokens(text: string, limit: number): string {
  if (countTextTokens(text) <= limit) return text;
  const words = text.match(/\s*\S+/g) ?? [];
  const wholeWords = longestFitting(words.length, (n) => words.slice(0, n).join(""), limit);
  const prefix = words.slice(0, wholeWords).join("");
  const next = Array.from(words[wholeWords] ?? "");
  const characters = longestFitting(next.length, (n) => prefix + next.slice(0, n).join(""), limit);
  return prefix + next.slice(0, characters).join("");
}

function longestFitting(count: number, prefixOf: (n: number) => string, limit: number): number {
  let low = 0;
  let high = count;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (countTextTokens(prefixOf(middle)) <= limit) low = middle;
    else high = middle - 1;
  }
  while (low > 0 && countTextTokens(prefixOf(low)) > limit) low -= 1;
  return low;
}
