/**
 * Token counts for holds and for metering when an upstream reports no usage.
 *
 * cl100k_base rather than o200k_base: the network serves open models whose
 * tokenizers are of neither family, so this is an estimate either way, and
 * cl100k costs 40 MB of memory instead of 70 and is a third faster.
 *
 * Text is counted as plain text: a user who writes "<|endoftext|>" gets it
 * counted as characters, never an exception.
 *
 * The encoding is loaded on first use: most requests never need it (holds are
 * sized by `promptTokenBound` while the balance is far from its end, and
 * upstreams report their usage), and it is 40 MiB of the process's memory.
 */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Long texts are mostly system prompts and documents that come back on every turn of a conversation. */
const MEMO_MIN_LENGTH = 512;
const MEMO_MAX_ENTRIES = 2048;
const memo = new Map<string, number>();

type CountTokens = (text: string, options: typeof PLAIN_TEXT) => number;
let countTokens: CountTokens | undefined;

function encoding(): CountTokens {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  countTokens ??= (require("gpt-tokenizer/cjs/encoding/cl100k_base") as { countTokens: CountTokens }).countTokens;
  return countTokens;
}

export function countTextTokens(text: string): number {
  if (text.length === 0) return 0;
  if (text.length < MEMO_MIN_LENGTH) return encoding()(text, PLAIN_TEXT);
  const known = memo.get(text);
  if (known !== undefined) return known;
  const count = encoding()(text, PLAIN_TEXT);
  if (memo.size >= MEMO_MAX_ENTRIES) memo.delete(memo.keys().next().value as string);
  memo.set(text, count);
  return count;
}
