import { z } from "zod";
import type { UsagePosition } from "../../persistence/usage";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const EXACT_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const DAY_MS = 86_400_000;

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;
export const MAX_CHART_DAYS = 366;

/**
 * A bound of the time filter: an ISO 8601 instant (`2026-01-31T12:00:00Z`) or a
 * UTC day (`2026-01-31`). A day as `to` means through the end of that day, so
 * `from=2026-01-01&to=2026-01-31` is the whole of January.
 */
function timeBound(kind: "from" | "to") {
  return z
    .string()
    .max(40)
    .transform((raw, ctx) => {
      const ms = Date.parse(DATE_ONLY.test(raw) ? `${raw}T00:00:00Z` : raw);
      if (!Number.isFinite(ms) || !/^\d{4}-\d{2}-\d{2}/.test(raw)) {
        ctx.addIssue({ code: "custom", message: "must be an ISO 8601 date (2026-01-31) or date-time" });
        return z.NEVER;
      }
      return new Date(DATE_ONLY.test(raw) && kind === "to" ? ms + DAY_MS : ms);
    });
}

function wholeNumber(min: number, max: number, fallback: number) {
  return z
    .string()
    .regex(/^\d{1,6}$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .optional()
    .transform((value) => value ?? fallback);
}

const filters = {
  keyId: z.string().regex(UUID, "must be a key id (a UUID)").optional(),
  model: z.string().min(1).max(200).optional(),
  from: timeBound("from").optional(),
  to: timeBound("to").optional(),
};

const cursor = z
  .string()
  .max(400)
  .transform((raw, ctx) => {
    const position = decodeCursor(raw);
    if (!position) {
      ctx.addIssue({ code: "custom", message: "is not a cursor this API returned" });
      return z.NEVER;
    }
    return position;
  });

function fromBeforeTo(query: { from?: Date; to?: Date }): boolean {
  return !(query.from && query.to && query.from >= query.to);
}
const fromBeforeToIssue = { message: "must be before 'to'", path: ["from"] };

/** `GET /api/usage`. */
export const UsageListQuerySchema = z
  .object({ ...filters, cursor: cursor.optional(), limit: wholeNumber(1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE) })
  .strict()
  .refine(fromBeforeTo, fromBeforeToIssue);
export type UsageListQuery = z.infer<typeof UsageListQuerySchema>;

/** `GET /api/usage.csv`: the same filters, every matching record. */
export const UsageExportQuerySchema = z.object(filters).strict().refine(fromBeforeTo, fromBeforeToIssue);
export type UsageExportQuery = z.infer<typeof UsageExportQuerySchema>;

/** `GET /api/usage/daily`. */
export const DailyUsageQuerySchema = z
  .object({ keyId: filters.keyId, model: filters.model, days: wholeNumber(1, MAX_CHART_DAYS, 30) })
  .strict();
export type DailyUsageQuery = z.infer<typeof DailyUsageQuerySchema>;

/** Opaque to clients: base64url of the last record's exact time and request id. */
export function encodeCursor(position: UsagePosition): string {
  return Buffer.from(JSON.stringify([position.createdAt, position.requestId]), "utf8").toString("base64url");
}

export function decodeCursor(raw: string): UsagePosition | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [createdAt, requestId] = value as unknown[];
    if (typeof createdAt !== "string" || !EXACT_INSTANT.test(createdAt)) return null;
    if (typeof requestId !== "string" || requestId.length === 0 || requestId.length > 200) return null;
    return { createdAt, requestId };
  } catch {
    return null;
  }
}
