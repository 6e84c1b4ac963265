import { bodyParser } from "@koa/bodyparser";
import type { IncomingMessage } from "node:http";
import type { Context, Middleware } from "koa";
import { invalidRequest, requestTooLarge } from "../../domain/errors/gatewayErrors";
import type { GatewayError } from "../../domain/errors/gatewayError";

/**
 * Reads a JSON object body into `ctx.request.body`, or answers 400/413 in
 * OpenAI's shape: a wrong content type, malformed JSON, a body that is not an
 * object (`[]`, `"x"`, `null`), or more than `maxBytes`. A declared
 * Content-Length over the limit is refused before a byte is read. `__proto__`
 * keys, and `constructor.prototype`, are refused (prototype poisoning).
 *
 * A plain body, which is every SDK's, is read here in one pass: the chunks into
 * one Buffer, one `JSON.parse`, and the poisoning check only when the text
 * could hold such a key. A compressed body (Content-Encoding) goes through
 * @koa/bodyparser, which inflates it.
 */
export function jsonBody(maxBytes: number): Middleware {
  const read = jsonBodyReader(maxBytes);
  return async (ctx, next) => {
    await read(ctx);
    await next();
  };
}

/** `jsonBody` as a plain call, for a route that runs its steps in one handler. */
export function jsonBodyReader(maxBytes: number): (ctx: Context) => Promise<void> {
  const parseEncoded = bodyParser({ enableTypes: ["json"], jsonLimit: maxBytes, jsonStrict: false, encoding: "utf-8" });
  const noop = async () => undefined;

  return async (ctx) => {
    if (!isJson(ctx)) {
      throw invalidRequest("The request body must be JSON, sent with `Content-Type: application/json`.");
    }
    const declared = Number(ctx.req.headers["content-length"]);
    if (declared > maxBytes) throw requestTooLarge(maxBytes);
    const encoding = ctx.req.headers["content-encoding"];
    let body: unknown;
    if (encoding === undefined || encoding.toLowerCase() === "identity") {
      body = parseJson(await readBody(ctx.req, maxBytes));
    } else {
      try {
        await parseEncoded(ctx, noop);
      } catch (error) {
        if ((error as { status?: number }).status === 413) throw requestTooLarge(maxBytes);
        throw unparsable();
      }
      body = ctx.request.body;
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw invalidRequest("The request body must be a JSON object.");
    }
    ctx.request.body = body;
  };
}

const JSON_TYPE = /^application\/json\s*(?:;|$)/i;

function isJson(ctx: Context): boolean {
  const type = ctx.req.headers["content-type"];
  if (type === undefined) return false;
  return JSON_TYPE.test(type) || ctx.is("application/json") === "application/json";
}

function unparsable(): GatewayError {
  return invalidRequest(
    "We could not parse the JSON body of your request. The OpenAI API expects a JSON payload; check that it is valid JSON."
  );
}

/** The whole body, or a 413 as soon as it passes `maxBytes`, or a 400 if the client stops sending it. */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("aborted", onError);
    };
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > maxBytes) {
        cleanup();
        // Stop buffering; Node discards the rest once the response is sent.
        req.pause();
        reject(requestTooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, length));
    };
    const onError = () => {
      cleanup();
      reject(unparsable());
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("aborted", onError);
  });
}

const BYTE_ORDER_MARK = 0xfeff;

function parseJson(raw: Buffer): unknown {
  let text = raw.toString("utf8");
  if (text.charCodeAt(0) === BYTE_ORDER_MARK) text = text.slice(1);
  // No body at all is not malformed JSON: it is a request without its object.
  if (text.trim() === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw unparsable();
  }
  // "proto" is in both poisoning keys; "\u" is how either could be spelled without it.
  if ((text.includes("proto") || text.includes("\\u")) && isPoisoned(value)) throw unparsable();
  return value;
}

/** Whether a parsed value has a `__proto__` key, or a `constructor` object with a `prototype` key, at any depth. */
function isPoisoned(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const node = pending.pop();
    if (typeof node !== "object" || node === null) continue;
    if (Object.hasOwn(node, "__proto__")) return true;
    const ctor = (node as { constructor?: unknown }).constructor;
    if (Object.hasOwn(node, "constructor") && typeof ctor === "object" && ctor !== null && Object.hasOwn(ctor, "prototype")) {
      return true;
    }
    for (const child of Object.values(node)) pending.push(child);
  }
  return false;
}
