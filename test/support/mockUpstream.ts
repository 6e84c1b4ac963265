import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A real HTTP server on 127.0.0.1 that speaks OpenAI's Chat Completions wire
 * format, for gateway tests: non-stream and SSE stream (with the usage chunk
 * when `stream_options.include_usage` is asked), deterministic echo content,
 * tool calls, `n` choices, `GET /v1/models`, and programmable faults. It
 * records every request it receives.
 *
 * Content is `Echo: <last user text>`, one word per stream chunk; the mock's
 * "tokens" are those words, so usage is predictable: completion_tokens = the
 * words sent, prompt_tokens = the words of all messages + 3 per message.
 */
export type UpstreamFault =
  /** Answer this status with an OpenAI error body (or `body`). */
  | { kind: "status"; status: number; body?: unknown }
  /** Wait before sending anything (a first-byte timeout upstream). */
  | { kind: "slowFirstByte"; delayMs: number }
  /** Close the socket without answering. */
  | { kind: "resetBeforeFirstByte" }
  /** Send the headers and `afterChunks` stream chunks (non-stream: half the body), then destroy the socket. */
  | { kind: "resetAfterFirstByte"; afterChunks?: number }
  /** Send the whole stream but end it without `data: [DONE]` (and without the usage chunk). */
  | { kind: "cutBeforeDone" }
  /** After `afterChunks` chunks, send `data: {"error": …}` and end. */
  | { kind: "errorEventMidStream"; afterChunks?: number }
  /** Send the first chunk, then nothing, holding the connection open (an idle timeout upstream). */
  | { kind: "stallAfterFirstChunk" }
  /** Answer 200 with a body that is not JSON. */
  | { kind: "notJson" };

export interface MockUpstreamOptions {
  /** Model names it serves; other names get 404. Default: any. */
  models?: string[];
  /** Require `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Delay between stream chunks. */
  chunkDelayMs?: number;
  /** Report `usage` (default true). */
  reportUsage?: boolean;
  /** Generate 3× max_tokens words whatever max_tokens says. */
  ignoreMaxTokens?: boolean;
  cachedTokens?: number;
  reasoningTokens?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

type Json = Record<string, any>;

export class MockUpstream {
  readonly requests: RecordedRequest[] = [];
  /** Chat requests whose client went away before the response was finished. */
  abortedByClient = 0;
  /** GET /models answers 503 while false. */
  healthy = true;
  private readonly queuedFaults: UpstreamFault[] = [];
  private persistentFault: UpstreamFault | null = null;
  private completionCounter = 0;
  private readonly sockets = new Set<import("node:net").Socket>();

  private constructor(private readonly server: http.Server, readonly options: MockUpstreamOptions) {}

  static async start(options: MockUpstreamOptions = {}): Promise<MockUpstream> {
    const server = http.createServer();
    const mock = new MockUpstream(server, { reportUsage: true, ...options });
    server.on("request", (req, res) => void mock.handle(req, res));
    server.on("connection", (socket) => {
      mock.sockets.add(socket);
      socket.on("close", () => mock.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return mock;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  get chatRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path.endsWith("/chat/completions"));
  }

  /** The next `times` chat requests get `fault`. */
  failNext(fault: UpstreamFault, times = 1): void {
    for (let i = 0; i < times; i++) this.queuedFaults.push(fault);
  }

  /** Every chat request gets `fault` until cleared with null. */
  setFault(fault: UpstreamFault | null): void {
    this.persistentFault = fault;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await readAll(req);
    let body: any = raw;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      // recorded as text
    }
    const path = (req.url ?? "").split("?")[0];
    this.requests.push({ method: req.method ?? "", path, headers: req.headers, body });

    if (this.options.apiKey && req.headers.authorization !== `Bearer ${this.options.apiKey}`) {
      return sendJson(res, 401, errorBody("Incorrect API key provided.", "invalid_api_key"));
    }
    if (req.method === "GET" && path.endsWith("/models")) {
      if (!this.healthy) return sendJson(res, 503, errorBody("unhealthy", "unavailable"));
      const ids = this.options.models ?? ["mock-model"];
      return sendJson(res, 200, {
        object: "list",
        data: ids.map((id) => ({ id, object: "model", created: 0, owned_by: "mock" })),
      });
    }
    if (req.method !== "POST" || !path.endsWith("/chat/completions")) {
      return sendJson(res, 404, errorBody("not found", "unknown_url"));
    }
    if (typeof body !== "object" || body === null)
      return sendJson(res, 400, errorBody("We could not parse the JSON body.", null));
    if (this.options.models && !this.options.models.includes(body.model)) {
      return sendJson(res, 404, errorBody(`The model '${body.model}' does not exist`, "model_not_found"));
    }

    res.on("close", () => {
      if (!res.writableFinished) this.abortedByClient += 1;
    });
    const fault = this.queuedFaults.shift() ?? this.persistentFault;
    if (fault?.kind === "status") {
      return sendJson(res, fault.status, fault.body ?? errorBody(`mock failure ${fault.status}`, null));
    }
    if (fault?.kind === "resetBeforeFirstByte") return void req.socket.destroy();
    if (fault?.kind === "slowFirstByte") {
      await sleep(fault.delayMs);
      if (res.destroyed) return;
    }
    if (fault?.kind === "notJson") {
      res.writeHead(200, { "content-type": "application/json" });
      return void res.end("<html>bad gateway</html>");
    }
    const completion = this.generate(body);
    if (body.stream === true) return this.stream(res, body, completion, fault);
    const json = JSON.stringify(completion.response);
    if (fault?.kind === "resetAfterFirstByte") {
      res.writeHead(200, { "content-type": "application/json" });
      res.write(json.slice(0, json.length >> 1));
      return void setTimeout(() => res.socket?.destroy(), 10);
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(json);
  }

  private generate(body: Json): { response: Json; chunks: Json[]; usage: Json | null } {
    const id = `chatcmpl-mock${++this.completionCounter}`;
    const created = 1_700_000_000 + this.completionCounter;
    const messages: Json[] = Array.isArray(body.messages) ? body.messages : [];
    const lastUser = [...messages].reverse().find((m) => m.role === "user");
    const userText = textOf(lastUser?.content);
    const maxTokens: number | undefined = body.max_completion_tokens ?? body.max_tokens ?? undefined;
    let words = `Echo: ${userText}`.trim().split(/\s+/);
    if (this.options.ignoreMaxTokens && maxTokens) {
      while (words.length < maxTokens * 3) words = words.concat(words);
      words = words.slice(0, maxTokens * 3);
    }
    const truncated = !this.options.ignoreMaxTokens && maxTokens !== undefined && words.length > maxTokens;
    if (truncated) words = words.slice(0, maxTokens);
    const n: number = body.n ?? 1;
    const wantsTool =
      Array.isArray(body.tools) &&
      body.tools.length > 0 &&
      (body.tool_choice === "required" || typeof body.tool_choice === "object");
    const toolName: string = body.tools?.[0]?.function?.name ?? "tool";
    const toolArguments = JSON.stringify({ echo: userText });
    const finishReason = wantsTool ? "tool_calls" : truncated ? "length" : "stop";
    const promptTokens = messages.reduce((sum, m) => sum + 3 + countWords(textOf(m.content)), 0);
    const completionTokens = (wantsTool ? 2 : words.length) * n;
    const usage = this.options.reportUsage
      ? {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
          prompt_tokens_details: { cached_tokens: this.options.cachedTokens ?? 0 },
          completion_tokens_details: { reasoning_tokens: this.options.reasoningTokens ?? 0 },
        }
      : null;

    const choices = Array.from({ length: n }, (_, index) => ({
      index,
      message: wantsTool
        ? {
            role: "assistant",
            content: null,
            tool_calls: [
              { id: "call_mock1", type: "function", function: { name: toolName, arguments: toolArguments } },
            ],
          }
        : { role: "assistant", content: words.join(" ") },
      logprobs: null,
      finish_reason: finishReason,
    }));
    const response: Json = {
      id,
      object: "chat.completion",
      created,
      model: body.model,
      choices,
      system_fingerprint: "fp_mock",
    };
    if (usage) response.usage = usage;

    const includeUsage = body.stream_options?.include_usage === true;
    const chunk = (chunkChoices: Json[]): Json => ({
      id,
      object: "chat.completion.chunk",
      created,
      model: body.model,
      system_fingerprint: "fp_mock",
      choices: chunkChoices,
      ...(includeUsage ? { usage: null } : {}),
    });
    const chunks: Json[] = [];
    for (let index = 0; index < n; index++) {
      if (wantsTool) {
        const half = toolArguments.length >> 1;
        chunks.push(
          chunk([
            {
              index,
              delta: {
                role: "assistant",
                content: null,
                tool_calls: [
                  { index: 0, id: "call_mock1", type: "function", function: { name: toolName, arguments: "" } },
                ],
              },
              finish_reason: null,
            },
          ])
        );
        chunks.push(
          chunk([
            {
              index,
              delta: { tool_calls: [{ index: 0, function: { arguments: toolArguments.slice(0, half) } }] },
              finish_reason: null,
            },
          ])
        );
        chunks.push(
          chunk([
            {
              index,
              delta: { tool_calls: [{ index: 0, function: { arguments: toolArguments.slice(half) } }] },
              finish_reason: null,
            },
          ])
        );
      } else {
        chunks.push(chunk([{ index, delta: { role: "assistant", content: "" }, finish_reason: null }]));
        words.forEach((word, i) =>
          chunks.push(chunk([{ index, delta: { content: i === 0 ? word : ` ${word}` }, finish_reason: null }]))
        );
      }
      chunks.push(chunk([{ index, delta: {}, finish_reason: finishReason }]));
    }
    return { response, chunks, usage: includeUsage && usage ? { ...chunk([]), usage } : null };
  }

  private async stream(
    res: http.ServerResponse,
    body: Json,
    completion: { chunks: Json[]; usage: Json | null },
    fault: UpstreamFault | null
  ): Promise<void> {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const delay = this.options.chunkDelayMs ?? 0;
    for (let i = 0; i < completion.chunks.length; i++) {
      if (res.destroyed) return;
      if (fault?.kind === "resetAfterFirstByte" && i === (fault.afterChunks ?? 2)) {
        await sleep(10);
        return void res.socket?.destroy();
      }
      if (fault?.kind === "errorEventMidStream" && i === (fault.afterChunks ?? 2)) {
        res.write(`data: ${JSON.stringify(errorBody("mock upstream exploded", null))}\n\n`);
        return void res.end();
      }
      if (fault?.kind === "stallAfterFirstChunk" && i === 1) return;
      res.write(`data: ${JSON.stringify(completion.chunks[i])}\n\n`);
      if (delay) await sleep(delay);
    }
    if (fault?.kind === "cutBeforeDone") return void res.end();
    if (completion.usage) res.write(`data: ${JSON.stringify(completion.usage)}\n\n`);
    res.end("data: [DONE]\n\n");
  }
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p?.text === "string" ? p.text : "")).join(" ");
  return "";
}

function countWords(text: string): number {
  const trimmed = text.trim();
  return trimmed ? trimmed.split(/\s+/).length : 0;
}

function errorBody(message: string, code: string | null): Json {
  return { error: { message, type: "invalid_request_error", param: null, code } };
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

function readAll(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => resolve(""));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
