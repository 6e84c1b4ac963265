import type { Context } from "koa";
import type { z } from "zod";
import { validateBody } from "../../http/validation/validateBody";

/**
 * Parses the query string with a zod schema; a bad parameter is a 400 naming
 * it, like a bad body field. A parameter given twice is refused rather than
 * silently reduced to one of its values.
 */
export function parseQuery<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  const query: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(ctx.query)) {
    query[name] = Array.isArray(value) ? value : value === "" ? undefined : value;
  }
  return validateBody(schema, query);
}
