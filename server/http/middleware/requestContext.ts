import { randomUUID } from "node:crypto";
import type { Middleware } from "koa";
import type { Logger } from "pino";
import type { GatewayMetrics } from "../observability/gatewayMetrics";

/** A client's request id is echoed only if it is short and plain enough to be safe in logs and headers. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Routes that load balancers and scrapers poll: counted, but logged only at debug. */
const QUIET_ROUTES = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Outermost middleware: gives every request an id, puts it on the response,
 * and records one metric sample and one log line when the request ends.
 *
 * The id the ledger uses (`ctx.state.requestId`, the usage record's natural
 * key) is always generated here: a client-chosen id could otherwise collide
 * with another request's and have its usage deduplicated away. The response's
 * `x-request-id` echoes the client's own id when it sent a sane one, with ours
 * in `x-shareai-request-id`; otherwise `x-request-id` is ours.
 */
export function requestContext(logger: Logger, metrics: GatewayMetrics): Middleware {
  return async (ctx, next) => {
    const startedAt = performance.now();
    const requestId = randomUUID();
    ctx.state.requestId = requestId;
    const sent = ctx.req.headers["x-request-id"];
    const clientRequestId = typeof sent === "string" && SANE_REQUEST_ID.test(sent) ? sent : undefined;
    if (clientRequestId) {
      ctx.set("x-request-id", clientRequestId);
      ctx.set("x-shareai-request-id", requestId);
    } else {
      ctx.set("x-request-id", requestId);
    }
    try {
      await next();
    } finally {
      const route: string = (ctx as { _matchedRoute?: string })._matchedRoute ?? "unmatched";
      const ms = performance.now() - startedAt;
      const method = ctx.method;
      const status = ctx.status;
      const logFields = ctx.state.logFields as object | undefined;
      // Koa writes the response once this middleware returns: the metric and the log line can wait
      // for the next turn of the event loop instead of delaying the client's last byte.
      setImmediate(() => {
        metrics.observeRequest(route, method, status, ms / 1000);
        const fields = { reqId: requestId, clientRequestId, method, route, status, ms: Math.round(ms * 10) / 10, ...logFields };
        if (QUIET_ROUTES.has(route)) logger.debug(fields, "request");
        else logger.info(fields, "request");
      });
    }
  };
}
