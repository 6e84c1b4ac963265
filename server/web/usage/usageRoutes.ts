import { Readable } from "node:stream";
import type { Middleware } from "koa";
import type { UsageEntry, UsageFilter, UsagePosition } from "../../persistence/usage";
import { sessionOf } from "../auth/sessionAuth";
import { amountFromMicros } from "../http/amount";
import { parseQuery } from "../http/parseQuery";
import type { WebContext } from "../webContext";
import { csvHeader, csvLine } from "./usageCsv";
import {
  DailyUsageQuerySchema,
  encodeCursor,
  UsageExportQuerySchema,
  UsageListQuerySchema,
  type UsageExportQuery,
} from "./usageQuery";
import { usageView } from "./usageView";

/** Records read per query while exporting: memory stays flat whatever the history's length. */
const EXPORT_BATCH = 1000;
const DAY_MS = 86_400_000;

/**
 * `GET /api/usage`: the account's requests, newest first. Keyset pagination:
 * `next_cursor` continues exactly after the last record, so records arriving
 * meanwhile neither repeat nor shift a page (offsets would).
 */
export function listUsage(web: WebContext): Middleware {
  return async (ctx) => {
    const { account } = sessionOf(ctx);
    const query = parseQuery(ctx, UsageListQuerySchema);
    // One more than asked says whether there is a next page without a count.
    const entries = await web.stores.usage.list(filterOf(account, query), {
      after: query.cursor,
      limit: query.limit + 1,
    });
    const page = entries.slice(0, query.limit);
    const hasMore = entries.length > query.limit;
    ctx.body = {
      object: "list",
      data: page.map(usageView),
      has_more: hasMore,
      next_cursor: hasMore ? encodeCursor(page[page.length - 1].position) : null,
    };
  };
}

/**
 * `GET /api/usage.csv`: every record the filters match, streamed in batches.
 * The first batch is read before the response starts, so a failure there is
 * still a JSON error; a failure later cuts the download short (the status is
 * already sent), which a client sees as a truncated file.
 */
export function exportUsageCsv(web: WebContext): Middleware {
  return async (ctx) => {
    const { account } = sessionOf(ctx);
    const query = parseQuery(ctx, UsageExportQuerySchema);
    const filter = filterOf(account, query);
    const first = await web.stores.usage.list(filter, { limit: EXPORT_BATCH });
    ctx.type = "text/csv; charset=utf-8";
    ctx.set("Content-Disposition", `attachment; filename="shareai-usage-${account}.csv"`);
    ctx.body = Readable.from(csvLines(web, filter, first));
  };
}

async function* csvLines(web: WebContext, filter: UsageFilter, first: UsageEntry[]): AsyncGenerator<string> {
  yield csvHeader();
  let batch = first;
  for (;;) {
    if (batch.length > 0) yield batch.map(csvLine).join("");
    if (batch.length < EXPORT_BATCH) return;
    const after: UsagePosition = batch[batch.length - 1].position;
    batch = await web.stores.usage.list(filter, { after, limit: EXPORT_BATCH });
  }
}

/**
 * `GET /api/usage/daily?days=30`: spend per UTC day, oldest first, today
 * included, every day present (0 when nothing was spent) so a chart needs no
 * gap-filling.
 */
export function dailyUsage(web: WebContext): Middleware {
  return async (ctx) => {
    const { account } = sessionOf(ctx);
    const query = parseQuery(ctx, DailyUsageQuerySchema);
    const todayStart = Math.floor(web.now() / DAY_MS) * DAY_MS;
    const from = new Date(todayStart - (query.days - 1) * DAY_MS);
    const to = new Date(todayStart + DAY_MS);
    const rows = await web.stores.usage.daily({ ...filterOf(account, query), from, to });
    const byDay = new Map(rows.map((row) => [row.day, row]));
    let total = 0n;
    const data = Array.from({ length: query.days }, (_, i) => {
      const day = new Date(from.getTime() + i * DAY_MS).toISOString().slice(0, 10);
      const row = byDay.get(day);
      total += row?.costMicros ?? 0n;
      return {
        date: day,
        cost: amountFromMicros(row?.costMicros ?? 0n),
        requests: row?.requests ?? 0,
        prompt_tokens: row?.promptTokens ?? 0,
        completion_tokens: row?.completionTokens ?? 0,
      };
    });
    ctx.body = { object: "list", days: query.days, total: amountFromMicros(total), data };
  };
}

function filterOf(account: string, query: Partial<UsageExportQuery>): UsageFilter {
  return { account, keyId: query.keyId, modelId: query.model, from: query.from, to: query.to };
}
