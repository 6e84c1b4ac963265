import type { Middleware } from "koa";
import type { Logger } from "pino";
import { ClientGoneError } from "../../domain/chat/chatUpstream";
import { GatewayError } from "../../domain/errors/gatewayError";
import {
  internalError,
  invalidRequest,
  rateLimiterUnavailable,
  requestTooLarge,
  unknownUrl,
} from "../../domain/errors/gatewayErrors";

/**
 * The one place errors become responses: OpenAI's body with a JSON content
 * type, the error's headers, and `x-should-retry: false` when retrying cannot
 * help. Anything that is not a GatewayError is a bug or an outage: logged with
 * its stack, answered as a bare 500 that reveals nothing.
 */
export function errorHandler(logger: Logger, maxBodyBytes: number): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (thrown) {
      if (thrown instanceof ClientGoneError) {
        // Nobody is left to answer; 499 is what the logs and metrics say (nginx's "client closed request").
        ctx.status = 499;
        return;
      }
      const error = toGatewayError(thrown, ctx.method, ctx.path, maxBodyBytes);
      if (error.status >= 500) {
        if (thrown instanceof GatewayError)
          logger.warn({ reqId: ctx.state.requestId, code: error.code, reason: error.message }, "request failed");
        else logger.error({ err: thrown, reqId: ctx.state.requestId }, "unhandled error");
      }
      if (ctx.headerSent || !ctx.writable) return;
      ctx.status = error.status;
      ctx.set(error.headers);
      if (!error.shouldRetry) ctx.set("x-should-retry", "false");
      ctx.body = error.toBody();
    }
  };
}

/** Errors from Koa and its body parser carry an HTTP status; they are the client's, never a 500. */
function toGatewayError(thrown: unknown, method: string, path: string, maxBodyBytes: number): GatewayError {
  if (thrown instanceof GatewayError) return thrown;
  if (thrown instanceof URIError) return invalidRequest("The URL is not correctly percent-encoded.");
  if (isNamed(thrown, "RateLimiterUnavailableError")) return rateLimiterUnavailable();
  const status = (thrown as { status?: unknown } | null)?.status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    if (status === 413) return requestTooLarge(maxBodyBytes);
    if (status === 404) return unknownUrl(method, path);
    return invalidRequest("The request could not be read.");
  }
  return internalError();
}

function isNamed(value: unknown, name: string): boolean {
  return value instanceof Error && value.name === name;
}
