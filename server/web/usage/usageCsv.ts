import type { UsageEntry } from "../../persistence/usage";
import { amountFromMicros } from "../http/amount";

export const CSV_COLUMNS = [
  "request_id",
  "created_at",
  "key_id",
  "key_name",
  "key_prefix",
  "model",
  "provider_address",
  "prompt_tokens",
  "completion_tokens",
  "cached_prompt_tokens",
  "reasoning_tokens",
  "cost_micros",
  "cost_base",
  "cost_usdc",
  "estimated",
  "outcome",
  "stream",
  "latency_ms",
] as const;

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(",")}\r\n`;
}

/** One record as an RFC 4180 line (CRLF). Amounts are exact decimal strings, as in the JSON. */
export function csvLine(entry: UsageEntry): string {
  const cost = amountFromMicros(entry.costMicros);
  const cells = [
    text(entry.requestId),
    entry.position.createdAt,
    entry.keyId,
    text(entry.keyName ?? ""),
    text(entry.keyPrefix ?? ""),
    text(entry.modelId),
    entry.providerAddress,
    String(entry.promptTokens),
    String(entry.completionTokens),
    String(entry.cachedPromptTokens),
    String(entry.reasoningTokens),
    cost.micros,
    cost.base,
    cost.usdc,
    String(entry.estimated),
    entry.outcome,
    String(entry.stream),
    String(entry.latencyMs),
  ];
  return `${cells.join(",")}\r\n`;
}

/**
 * A text cell: quoted when it holds a separator, a quote or a line break; and
 * a spreadsheet would run a cell starting with = + - @ (or a tab or CR) as a
 * formula, so such a cell gets a leading apostrophe (OWASP's advice for CSV
 * injection): a key's name is typed by a user.
 */
function text(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
