/** What to do with one top-level member of a JSON object. */
export interface MemberRewrite {
  key: string;
  /** The member's new value as JSON text, or null to remove the member. */
  json: string | null;
  /** Whether to add the member, at the end, to an object that lacks it. */
  addIfAbsent: boolean;
}

/**
 * Rewrites top-level members of a JSON object in its text, leaving every
 * other character as it was: an upstream's answer is relayed with its `model`
 * (and a stream chunk's `id`, `created`, `usage`) changed, without parsing it
 * into objects and serialising it again.
 *
 * Only top-level keys are matched, however they are written (`"mod\u0065l"`
 * is `model`): a "model" inside `choices`, or inside a string, is content and
 * stays untouched. A key that appears more than once is rewritten (or removed)
 * everywhere, so that whichever duplicate a client's parser keeps, it is ours.
 *
 * `text` must be valid JSON whose value is an object: callers pass text they
 * have just parsed with JSON.parse. On anything else `apply` returns null, and
 * the caller falls back to serialising the parsed object.
 */
export class TopLevelRewrite {
  private readonly keys: readonly string[];
  private readonly values: readonly (string | null)[];
  /** The rewrite the last key read by `endOfKey` matched, or -1. */
  private matched = -1;

  constructor(private readonly rewrites: readonly MemberRewrite[]) {
    if (rewrites.length > 30) throw new RangeError("at most 30 rewrites");
    this.keys = rewrites.map((r) => r.key);
    this.values = rewrites.map((r) => r.json);
  }

  apply(text: string): string | null {
    try {
      return this.rewrite(text);
    } catch {
      return null;
    }
  }

  private rewrite(text: string): string | null {
    const values = this.values;
    let at = skipWhitespace(text, 0);
    if (text.charCodeAt(at) !== OPEN_BRACE) return null;
    at = skipWhitespace(text, at + 1);

    let out = "";
    /** How much of `text` is accounted for in `out`. */
    let copied = 0;
    /** Bit i: rewrite i's key was found. */
    let seen = 0;
    /** Members left in the output. */
    let kept = 0;
    let previousValueEnd = -1;
    // A run of consecutive members to remove: where its first key starts, and where the member before it ends.
    let runKeyStart = -1;
    let runPreviousEnd = -1;

    while (text.charCodeAt(at) !== CLOSE_BRACE) {
      if (text.charCodeAt(at) !== QUOTE) return null;
      const keyStart = at;
      const keyEnd = this.endOfKey(text, keyStart);
      const rewrite = this.matched;
      at = skipWhitespace(text, keyEnd);
      if (text.charCodeAt(at) !== COLON) return null;
      const valueStart = skipWhitespace(text, at + 1);
      const valueEnd = endOfValue(text, valueStart);
      const json = rewrite === -1 ? undefined : values[rewrite];

      if (runKeyStart !== -1 && json !== null) {
        // The run ends before this member: it goes with the separators after it.
        out += text.slice(copied, runKeyStart);
        copied = keyStart;
        runKeyStart = -1;
      }
      if (rewrite !== -1) seen |= 1 << rewrite;
      if (json === null) {
        if (runKeyStart === -1) {
          runKeyStart = keyStart;
          runPreviousEnd = previousValueEnd;
        }
      } else {
        kept += 1;
        if (json !== undefined && !(valueEnd - valueStart === json.length && text.startsWith(json, valueStart))) {
          out += text.slice(copied, valueStart) + json;
          copied = valueEnd;
        }
      }
      previousValueEnd = valueEnd;
      at = skipWhitespace(text, valueEnd);
      const separator = text.charCodeAt(at);
      if (separator === COMMA) at = skipWhitespace(text, at + 1);
      else if (separator !== CLOSE_BRACE) return null;
    }
    const close = at;
    if (skipWhitespace(text, close + 1) !== text.length) return null;

    if (runKeyStart !== -1) {
      // The last members go, with the separator before them.
      out += text.slice(copied, runPreviousEnd === -1 ? runKeyStart : runPreviousEnd);
      copied = previousValueEnd;
    }
    for (let i = 0; i < this.rewrites.length; i++) {
      const { key, json, addIfAbsent } = this.rewrites[i];
      if ((seen & (1 << i)) !== 0 || json === null || !addIfAbsent) continue;
      out += `${text.slice(copied, close)}${kept > 0 ? "," : ""}${JSON.stringify(key)}:${json}`;
      copied = close;
      kept += 1;
    }
    return copied === 0 ? text : out + text.slice(copied);
  }

  /** The end of the key string starting at `start`; sets `matched`. */
  private endOfKey(text: string, start: number): number {
    let escaped = false;
    let at = start + 1;
    for (;;) {
      const c = text.charCodeAt(at);
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        escaped = true;
        at += 2;
      } else if (Number.isNaN(c)) {
        throw new SyntaxError("unterminated key");
      } else {
        at += 1;
      }
    }
    const end = at + 1;
    this.matched = -1;
    const keys = this.keys;
    if (!escaped) {
      const length = end - start - 2;
      for (let i = 0; i < keys.length; i++) {
        if (keys[i].length === length && text.startsWith(keys[i], start + 1)) {
          this.matched = i;
          break;
        }
      }
    } else {
      this.matched = keys.indexOf(JSON.parse(text.slice(start, end)) as string);
    }
    return end;
  }
}

/** The end of the JSON value that starts at `start` (the text is known to be valid JSON). */
function endOfValue(text: string, start: number): number {
  const c = text.charCodeAt(start);
  if (c === QUOTE) return endOfString(text, start);
  if (c === OPEN_BRACE || c === OPEN_BRACKET) {
    let depth = 0;
    for (let at = start; at < text.length; at++) {
      const d = text.charCodeAt(at);
      if (d === QUOTE) at = endOfString(text, at) - 1;
      else if (d === OPEN_BRACE || d === OPEN_BRACKET) depth += 1;
      else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --depth === 0) return at + 1;
    }
    throw new SyntaxError("unterminated value");
  }
  // A number, true, false or null.
  let at = start;
  for (; at < text.length; at++) {
    const d = text.charCodeAt(at);
    if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isWhitespace(d)) break;
  }
  if (at === start) throw new SyntaxError("missing value");
  return at;
}

/** The end of the string whose opening quote is at `start`: found with indexOf, so long strings cost little. */
function endOfString(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote === -1) throw new SyntaxError("unterminated string");
    let backslash = quote - 1;
    while (text.charCodeAt(backslash) === BACKSLASH) backslash -= 1;
    // An even number of backslashes before it: the quote is not escaped.
    if (((quote - 1 - backslash) & 1) === 0) return quote + 1;
    from = quote + 1;
  }
}

function skipWhitespace(text: string, at: number): number {
  while (isWhitespace(text.charCodeAt(at))) at += 1;
  return at;
}

function isWhitespace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

const QUOTE = 34;
const COMMA = 44;
const COLON = 58;
const BACKSLASH = 92;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
