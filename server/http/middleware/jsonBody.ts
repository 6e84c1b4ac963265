import { bodyParser } from "@koa/bodyparser";
import type { Middleware } from "koa";
import { invalidRequest, requestTooLarge } from "../../domain/errors/gatewayErrors";

/**
 * Reads a JSON object body or answers 400/413 in OpenAI's shape: a wrong
 * content type, malformed JSON, a body that is not an object (`[]`, `"x"`,
 * `null`), or more than `maxBytes`. A declared Content-Length over the limit is
 * refused before a byte is read. `__proto__` keys are refused by the parser
 * (prototype poisoning).
 */
export function jsonBody(maxBytes: number): Middleware {
  const parse = bodyParser({ enableTypes: ["json"], jsonLimit: maxBytes, jsonStrict: false, encoding: "utf-8" });
  const noop = async () => undefined;

  return async (ctx, next) => {
    if (!ctx.is("application/json")) {
      throw invalidRequest("The request body must be JSON, sent with `Content-Type: application/json`.");
    }
    const declared = Number(ctx.get("content-length"));
    if (declared > maxBytes) throw requestTooLarge(maxBytes);
    try {
      await parse(ctx, noop);
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === 413) throw requestTooLarge(maxBytes);
      throw invalidRequest(
        "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload; check that it is valid JSON."
      );
    }
    const body: unknown = ctx.request.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw invalidRequest("The request body must be a JSON object.");
    }
    await next();
  };
}
