/**
 * The benchmark's upstream: the smallest OpenAI-compatible server node:http
 * allows, so that what the benchmark measures is the gateway, not the mock.
 * Every answer is a canned Buffer built once at start:
 *
 * - `POST …/chat/completions`: a chat completion with `usage`; with
 *   `"stream":true` an SSE stream (role chunk, seven content chunks, the finish
 *   chunk, the usage chunk when `"include_usage":true` was asked, `[DONE]`),
 *   written in one piece, chunked (no content-length), as OpenAI sends streams.
 * - `GET …/models`: the model list (the gateway's health checks).
 *
 * The request body is read but not parsed: the two flags are found by substring
 * (both gateways send compact JSON). Run as its own process, pinned with taskset:
 *
 *   node --require tsx/cjs scripts/bench/fastUpstream.ts <port>
 */
import http from "node:http";

export const UPSTREAM_MODEL = "bench-upstream-model";
export const COMPLETION_TEXT = "Hello! How can I help you today?";
const CREATED = 1_700_000_000;
const PROMPT_TOKENS = 12;
const COMPLETION_TOKENS = 9;

const usage = {
  prompt_tokens: PROMPT_TOKENS,
  completion_tokens: COMPLETION_TOKENS,
  total_tokens: PROMPT_TOKENS + COMPLETION_TOKENS,
  prompt_tokens_details: { cached_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0 },
};

function completionBody(): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: "chatcmpl-bench",
      object: "chat.completion",
      created: CREATED,
      model: UPSTREAM_MODEL,
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: COMPLETION_TEXT, refusal: null },
          logprobs: null,
          finish_reason: "stop",
        },
      ],
      usage,
      system_fingerprint: "fp_bench",
    })
  );
}

function streamBody(includeUsage: boolean): Buffer {
  const words = COMPLETION_TEXT.split(" ");
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({
      id: "chatcmpl-bench",
      object: "chat.completion.chunk",
      created: CREATED,
      model: UPSTREAM_MODEL,
      system_fingerprint: "fp_bench",
      choices,
      ...(includeUsage ? { usage: null } : {}),
      ...extra,
    })}\n\n`;
  const events = [
    chunk([{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }]),
  ];
  words.forEach((word, i) =>
    events.push(
      chunk([{ index: 0, delta: { content: i === 0 ? word : ` ${word}` }, logprobs: null, finish_reason: null }])
    )
  );
  events.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }]));
  if (includeUsage) events.push(chunk([], { usage }));
  events.push("data: [DONE]\n\n");
  return Buffer.from(events.join(""));
}

const COMPLETION = completionBody();
const STREAM_WITH_USAGE = streamBody(true);
const STREAM_WITHOUT_USAGE = streamBody(false);
const MODELS = Buffer.from(
  JSON.stringify({
    object: "list",
    data: [{ id: UPSTREAM_MODEL, object: "model", created: CREATED, owned_by: "bench" }],
  })
);
const NOT_FOUND = Buffer.from(
  JSON.stringify({ error: { message: "not found", type: "invalid_request_error", param: null, code: "unknown_url" } })
);

const JSON_HEADERS = { "content-type": "application/json" };
const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache" };

export function createFastUpstream(): http.Server {
  const server = http.createServer((req, res) => {
    const url = req.url ?? "";
    if (req.method === "GET") {
      req.resume();
      if (url.endsWith("/models")) return send(res, 200, JSON_HEADERS, MODELS);
      return send(res, 404, JSON_HEADERS, NOT_FOUND);
    }
    if (req.method !== "POST" || !url.endsWith("/chat/completions")) {
      req.resume();
      return send(res, 404, JSON_HEADERS, NOT_FOUND);
    }
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (piece: string) => {
      body += piece;
    });
    req.on("end", () => {
      if (body.includes('"stream":true')) {
        sendStream(res, body.includes('"include_usage":true') ? STREAM_WITH_USAGE : STREAM_WITHOUT_USAGE);
      } else {
        send(res, 200, JSON_HEADERS, COMPLETION);
      }
    });
  });
  // Both gateways keep their upstream connections alive between phases.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  return server;
}

function send(res: http.ServerResponse, status: number, headers: Record<string, string>, body: Buffer): void {
  res.writeHead(status, { ...headers, "content-length": body.length });
  res.end(body);
}

/** An event stream goes out chunked, without a length, as OpenAI's do (Portkey's relay also insists on it). */
function sendStream(res: http.ServerResponse, body: Buffer): void {
  res.writeHead(200, SSE_HEADERS);
  res.end(body);
}

if (require.main === module) {
  const port = Number(process.argv[2] ?? 0);
  const server = createFastUpstream();
  server.listen(port, "127.0.0.1", () => {
    const address = server.address();
    process.stdout.write(
      `fast upstream listening on ${typeof address === "object" && address ? address.port : port}\n`
    );
  });
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
