import { expect } from "chai";
import { Agent, request } from "undici";
import { type GatewayHarness, MODEL_ID, startGatewayHarness } from "./support/gatewayHarness";
import { type SeededRandom, seededRandom } from "./support/seededRandom";

/**
 * Thousands of generated bad requests: every one must get a 4xx with OpenAI's
 * error body and a JSON content type, and none a 5xx (clients retry 5xx, and a
 * client's mistake must not look like our outage).
 */
const REQUESTS = 2400;
const CONCURRENCY = 32;

interface BadRequest {
  kind: string;
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

const VALID = () => ({ model: MODEL_ID, messages: [{ role: "user", content: "hi" }] });

function randomJson(r: SeededRandom, depth = 0): unknown {
  const roll = r.int(0, depth > 3 ? 5 : 8);
  switch (roll) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick([0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, Number.MIN_VALUE, 42]);
    case 3:
      return r.pick([
        "",
        "x",
        "🎉",
        "\u0000",
        "a".repeat(r.int(1, 3000)),
        "<|endoftext|>",
        "__proto__",
        "sk-shareai-x",
      ]);
    case 4:
      return r.int(-1e9, 1e9);
    case 5:
      return "s" + r.int(0, 99);
    case 6:
      return Array.from({ length: r.int(0, 4) }, () => randomJson(r, depth + 1));
    default: {
      const obj: Record<string, unknown> = {};
      for (let i = r.int(0, 5); i > 0; i--)
        obj[r.pick(["model", "messages", "role", "content", "n", "x", "stream", "tools", "type", "text"])] = randomJson(
          r,
          depth + 1
        );
      return obj;
    }
  }
}

/** A value that no schema field accepts as given (checked against the field it replaces). */
const WRONG_VALUES: Record<string, unknown[]> = {
  model: [null, 42, true, [], {}, "", "m".repeat(300)],
  messages: [
    null,
    "hi",
    5,
    {},
    [],
    [null],
    [5],
    [{}],
    [{ role: "user" }],
    [{ role: "user", content: 5 }],
    [{ role: "nobody", content: "x" }],
    [{ role: "user", content: [{ type: "text" }] }],
    [{ role: "user", content: [{ type: "image_url", image_url: {} }] }],
    [{ role: "tool", content: "x" }],
    [{ role: "assistant", content: 5 }],
  ],
  stream: ["true", 1, [], {}],
  stream_options: ["yes", 5, [], { include_usage: "yes" }],
  max_tokens: [0, -5, 1.5, "100", 2 ** 60, true, []],
  max_completion_tokens: [0, -1, 0.5, "9", {}],
  n: [0, -1, 129, 1e9, 2.5, "2"],
  temperature: [-0.1, 2.1, 1e308, "hot", [], {}, true],
  top_p: [-1, 1.5, "x"],
  presence_penalty: [-3, 3, "a"],
  frequency_penalty: [9, "b"],
  logprobs: ["yes", 1],
  top_logprobs: [-1, 21, 1.5, "3"],
  stop: [5, [1, 2], ["a", "b", "c", "d", "e"], {}],
  seed: [1.5, "7", 2 ** 60],
  tools: ["x", 5, {}, [5], [{}], [{ type: "function", function: { name: "" } }]],
  tool_choice: [5, "sometimes", [], true],
  response_format: ["json", 5, {}, { type: 5 }],
  logit_bias: [5, "x", { a: "b" }],
  user: [5, {}, []],
};

function generate(r: SeededRandom, secret: string): BadRequest {
  const auth = { authorization: `Bearer ${secret}`, "content-type": "application/json" };
  const post = (kind: string, body: string | Buffer, headers: Record<string, string> = auth): BadRequest => ({
    kind,
    method: "POST",
    path: "/v1/chat/completions",
    headers,
    body,
  });
  switch (r.int(0, 9)) {
    case 0:
      return post("random JSON value", JSON.stringify(randomJson(r)));
    case 1: {
      const text = JSON.stringify({ ...VALID(), junk: randomJson(r) });
      return post(
        "truncated or corrupted JSON",
        r.chance(0.5)
          ? text.slice(0, r.int(0, text.length - 1))
          : text.replace(/[{}":,]/, r.pick(["", "'", "\\", "}}", "\u0000"]))
      );
    }
    case 2:
      return r.chance(0.2)
        ? post("an oversized body", JSON.stringify({ ...VALID(), pad: "p".repeat(r.int(70_000, 200_000)) }))
        : post("random bytes", Buffer.from(Array.from({ length: r.int(0, 200) }, () => r.int(0, 255))));
    case 3:
    case 4: {
      const field = r.pick(Object.keys(WRONG_VALUES));
      const body: Record<string, unknown> = { ...VALID(), [field]: r.pick(WRONG_VALUES[field]) };
      if (r.chance(0.3)) body.some_unknown_field = randomJson(r);
      return post(`wrong ${field}`, JSON.stringify(body));
    }
    case 5: {
      const field = r.pick(["max_tokens", "n", "temperature", "seed", "top_logprobs"]);
      return post(
        `huge number in ${field}`,
        `{"model":"${MODEL_ID}","messages":[{"role":"user","content":"x"}],"${field}":${r.pick([
          "1e400",
          "-1e400",
          "99999999999999999999999999",
          "-0.0000001",
        ])}}`
      );
    }
    case 6: {
      const headers: Record<string, string> = { authorization: `Bearer ${secret}` };
      const type = r.pick([
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "",
        "application/jsonx",
        "json",
      ]);
      if (type) headers["content-type"] = type;
      if (r.chance(0.3)) headers["content-encoding"] = r.pick(["gzip", "br", "deflate", "x-unknown"]);
      return post(`content-type ${type || "(none)"}`, JSON.stringify(VALID()), headers);
    }
    case 7: {
      const key = r.pick([
        "",
        "Bearer",
        "Bearer ",
        `Basic ${Buffer.from("a:b").toString("base64")}`,
        `Bearer sk-shareai-${"A".repeat(r.int(0, 60))}`,
        `Bearer sk-${"x".repeat(r.int(1, 300))}`,
        `Bearer ${secret.slice(0, -1)}`,
        `Bearer ${secret}x`,
        `bearer  ${secret.toUpperCase()}`,
        `Token ${secret}`,
        `Bearer ${"é".repeat(10)}`,
      ]);
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (key) headers.authorization = key;
      return r.chance(0.2)
        ? {
            kind: "bad key on /v1/models",
            method: "GET",
            path: "/v1/models",
            headers: key ? { authorization: key } : { authorization: "Bearer" },
          }
        : post("bad key", JSON.stringify(r.chance(0.5) ? VALID() : randomJson(r)), headers);
    }
    case 8:
      return post(
        "unknown model",
        JSON.stringify({
          ...VALID(),
          model: r.pick(["gpt-4o", "x/y/z", "🎉", " ", `${MODEL_ID} `, MODEL_ID.toUpperCase()]),
        })
      );
    default: {
      const path = r.pick([
        "/v1/chat/completion",
        "/v1/models/%E0%A4%A",
        "/v1/../etc/passwd",
        "/v1/models/" + "x".repeat(300),
        "/v2/chat/completions",
        "/v1/completions",
        "/v1/chat/completions/extra",
        "/%00",
      ]);
      return {
        kind: `path ${path.slice(0, 30)}`,
        method: r.pick(["GET", "POST"] as const),
        path,
        headers: auth,
        body: undefined,
      };
    }
  }
}

describe(`fuzz: ${REQUESTS} generated bad requests`, () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness({
      env: { MAX_BODY_BYTES: "65536", API_KEY_CACHE_TTL_MS: "5000", CATALOG_CACHE_TTL_MS: "5000" },
    });
  });
  after(async () => {
    await h.close();
  });

  it("are all answered with a 4xx OpenAI error body, never a 5xx", async () => {
    const random = seededRandom("fuzz");
    const dispatcher = new Agent({ connections: CONCURRENCY });
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let sent = 0;

    async function worker() {
      while (sent < REQUESTS) {
        sent += 1;
        const bad = generate(random, h.secret);
        let status: number;
        let contentType: string | string[] | undefined;
        let text: string;
        try {
          const res = await request(`${h.gateway.url.replace(/\/v1$/, "")}${bad.path}`, {
            method: bad.method,
            headers: bad.headers,
            body: bad.body,
            dispatcher,
          });
          status = res.statusCode;
          contentType = res.headers["content-type"];
          text = await res.body.text();
        } catch (error) {
          // A request the HTTP client itself refuses to send (an invalid header value) tests nothing of ours.
          if ((error as { code?: string }).code === "UND_ERR_INVALID_ARG" || error instanceof TypeError) continue;
          failures.push(`${bad.kind}: transport error ${(error as Error).message}`);
          continue;
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const problem = judge(status, contentType, text);
        if (problem) failures.push(`${bad.kind} → ${status} ${problem}: ${text.slice(0, 200)}`);
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await dispatcher.close();

    console.log(`      statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    expect(failures.slice(0, 20), `${failures.length} bad answers`).to.deep.equal([]);
    expect([...statuses.values()].reduce((a, b) => a + b, 0)).to.be.at.least(2000);
    expect(h.upstreams[0].chatRequests, "no bad request reached the upstream").to.have.length(0);
    expect(h.ports.ledger.activeHolds()).to.deep.equal([]);
  });
});

function judge(status: number, contentType: string | string[] | undefined, text: string): string | null {
  if (status < 400 || status >= 500) return "is not a 4xx";
  if (!String(contentType).startsWith("application/json")) return `has content-type ${contentType}`;
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return "is not JSON";
  }
  const error = body?.error;
  if (!error || Object.keys(body).length !== 1) return "is not {error: …}";
  if (Object.keys(error).sort().join() !== "code,message,param,type") return "lacks message/type/param/code";
  if (typeof error.message !== "string" || typeof error.type !== "string" || typeof error.code !== "string")
    return "has fields of the wrong type";
  return null;
}
