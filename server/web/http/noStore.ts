import type { Middleware } from "koa";

/** Per-account answers (keys, balances, a new key's secret) must not sit in any cache, shared or the browser's. */
export const noStore: Middleware = (ctx, next) => {
  ctx.set("Cache-Control", "no-store");
  return next();
};
