import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ChatCompletionRequestSchema } from "../domain/chat/chatCompletionRequest";
import { GatewayError } from "../domain/errors/gatewayError";
import { invalidRequest, requestTooLarge, unknownUrl } from "../domain/errors/gatewayErrors";
import type { Model } from "../domain/types";
import { countPromptTokens } from "../domain/tokens/countPromptTokens";
import { validateBody } from "../http/validation/validateBody";
import { DEMO_MODEL } from "./demoModel";
import { echoReply } from "./echoReply";
import { completionBody, streamCompletion } from "./echoResponses";

/**
 * The built-in demo upstream: an OpenAI-compatible server on 127.0.0.1 that
 * serves one model, `shareai-demo/echo`, which answers "You said: …" with the
 * last user message. It is what `npm start` routes to when no provider is
 * configured: it exercises the whole gateway (keys, holds, metering, streams)
 * honestly, without pretending to be a language model.
 *
 * `GET /v1/models`, `GET /v1/models/{id}`, `POST /v1/chat/completions` (stream
 * or not, `n`, `stop`, `max_tokens` / `max_completion_tokens`), OpenAI error
 * bodies for anything else. Usage is counted with the gateway's tokenizer.
 */
export interface EchoUpstreamOptions {
  /** Pause before each streamed word (default 20 ms: a stream you can watch). */
  wordDelayMs?: number;
  /** Largest request body accepted (default 10 MiB). */
  maxBodyBytes?: number;
  /** The model it serves (default the demo model); its `maxOutputTokens` caps every reply. */
  model?: Model;
}

export interface EchoUpstream {
  /** OpenAI base URL, `http://127.0.0.1:<port>/v1`. */
  baseUrl: string;
  modelId: string;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const DEFAULT_WORD_DELAY_MS = 20;
const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

export async function startEchoUpstream(options: EchoUpstreamOptions = {}): Promise<EchoUpstream> {
  const model = options.model ?? DEMO_MODEL;
  const settings = {
    model,
    wordDelayMs: options.wordDelayMs ?? DEFAULT_WORD_DELAY_MS,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
  };
  const server = http.createServer((req, res) => {
    handle(req, res, settings).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, error instanceof GatewayError ? error : internalError());
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | null = null;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    modelId: model.id,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

interface Settings {
  model: Model;
  wordDelayMs: number;
  maxBodyBytes: number;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, settings: Settings): Promise<void> {
  const path = (req.url ?? "/").split("?")[0].replace(/\/+$/, "");
  const { model } = settings;
  if (req.method === "GET" && path === "/v1/models") {
    return sendJson(res, 200, { object: "list", data: [modelObject(model)] });
  }
  if (req.method === "GET" && path.startsWith("/v1/models/")) {
    const id = decodeURIComponent(path.slice("/v1/models/".length));
    if (id !== model.id) return sendError(res, noSuchModel(id));
    return sendJson(res, 200, modelObject(model));
  }
  if (req.method !== "POST" || path !== "/v1/chat/completions") {
    return sendError(res, unknownUrl(req.method ?? "GET", path));
  }

  const request = validateBody(ChatCompletionRequestSchema, await readJson(req, settings.maxBodyBytes));
  if (request.model !== model.id) return sendError(res, noSuchModel(request.model));
  const completion = {
    id: `chatcmpl-${randomBytes(12).toString("base64url")}`,
    created: Math.floor(Date.now() / 1000),
    model: model.id,
    choices: request.n ?? 1,
    reply: echoReply(request, model.maxOutputTokens),
    promptTokens: countPromptTokens(request),
  };
  if (request.stream === true) {
    await streamCompletion(res, completion, {
      includeUsage: request.stream_options?.include_usage === true,
      wordDelayMs: settings.wordDelayMs,
    });
    return;
  }
  sendJson(res, 200, completionBody(completion));
}

function modelObject(model: Model) {
  return { id: model.id, object: "model", created: model.created, owned_by: model.ownedBy };
}

async function readJson(req: http.IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw requestTooLarge(maxBytes);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw invalidRequest("We could not parse the JSON body of your request.");
  }
}

const noSuchModel = (id: string) =>
  new GatewayError(404, "model_not_found", `The model '${id.slice(0, 200)}' does not exist.`, "model");

const internalError = () => new GatewayError(500, "internal_error", "The demo upstream failed to answer.");

function sendError(res: http.ServerResponse, error: GatewayError): void {
  // A refused upload is answered at once; the connection is not reused for the rest of the body.
  if (error.status === 413) res.setHeader("connection", "close");
  sendJson(res, error.status, error.toBody());
}

function sendJson(res: http.ServerResponse, status: number, body: object): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(json) });
  res.end(json);
}
