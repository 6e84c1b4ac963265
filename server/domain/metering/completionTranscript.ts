import { countTextTokens } from "../tokens/countTextTokens";

type Loose = Record<string, unknown>;

/**
 * The text an upstream generated, collected so that it can be counted with the
 * tokenizer when the upstream reports no usage (or the stream broke before it
 * did). Everything a model emits costs completion tokens: the content, a
 * refusal, reasoning text, tool-call names and arguments.
 *
 * Collecting is a push of string references per chunk; counting happens once,
 * at the end, and only if it is needed.
 */
export class CompletionTranscript {
  /** Pieces per choice index, so that interleaved choices are not glued into one text. */
  private readonly pieces = new Map<number, string[]>();

  /** A non-stream response's choices. */
  addChoices(choices: unknown): void {
    if (!Array.isArray(choices)) return;
    for (const choice of choices as Loose[]) this.addGenerated(indexOf(choice), choice?.message);
  }

  /** One stream chunk's choices. */
  addDeltaChoices(choices: unknown[]): void {
    for (const choice of choices as Loose[]) this.addGenerated(indexOf(choice), choice?.delta);
  }

  countTokens(): number {
    let total = 0;
    for (const pieces of this.pieces.values()) total += countTextTokens(pieces.join(""));
    return total;
  }

  private addGenerated(index: number, message: unknown): void {
    if (typeof message !== "object" || message === null) return;
    const m = message as Loose;
    let pieces = this.pieces.get(index);
    if (!pieces) this.pieces.set(index, (pieces = []));
    pushText(pieces, m.content);
    pushText(pieces, m.refusal);
    pushText(pieces, m.reasoning_content);
    pushText(pieces, m.reasoning);
    if (Array.isArray(m.tool_calls)) {
      for (const call of m.tool_calls as Loose[]) pushCall(pieces, call?.function);
    }
    pushCall(pieces, m.function_call);
  }
}

function indexOf(choice: Loose | null | undefined): number {
  return typeof choice?.index === "number" ? choice.index : 0;
}

function pushText(pieces: string[], value: unknown): void {
  if (typeof value === "string") {
    if (value) pieces.push(value);
  } else if (Array.isArray(value)) {
    for (const part of value as Loose[]) if (typeof part?.text === "string") pieces.push(part.text);
  }
}

function pushCall(pieces: string[], fn: unknown): void {
  if (typeof fn !== "object" || fn === null) return;
  const f = fn as Loose;
  if (typeof f.name === "string") pieces.push(f.name);
  if (typeof f.arguments === "string") pieces.push(f.arguments);
}
