import { errorResponse, json, nullable, ok, ref, type Json } from "../openapi/openApiJson";

const SESSION = [{ sessionCookie: [] }];
const SESSION_AND_CSRF = [{ sessionCookie: [], csrfToken: [] }];
const notSignedIn = errorResponse("`not_signed_in`: no live session.");
const csrf = errorResponse("`csrf_failed`: the Origin is not this site, or `x-csrf-token` does not match.");
const badRequest = errorResponse("`invalid_request_error`: a bad body field, named in `param`.");
const notRegistered = errorResponse("`provider_not_registered`: no provider is paid at the signed-in address.");
const upstreamNotFound = errorResponse(
  "`provider_not_registered`, or `upstream_not_found`: no such upstream of this provider (another provider's is not found either).",
);
const idParameter = [{ name: "id", in: "path", required: true, schema: { type: "string", format: "uuid" } }];

const checkProperties: Json = {
  ok: { type: "boolean", description: "up (true) or down (false)" },
  checked_at: { type: "string", format: "date-time" },
  status: nullable({ type: "integer", description: "HTTP status of the answer; null when none came" }),
  latency_ms: { type: "integer" },
  error: nullable({ type: "string", description: "Why it is down, in plain words (at most 200 characters when stored)" }),
};

const health: Json = nullable({
  type: "object",
  description:
    "The upstream's last health check, stored in Postgres: written by every gateway instance's periodic `GET {base_url}/models` (2xx = up) and by the live checks of this API, so it survives restarts. When the response follows a live check (add, check, an edit of base URL, key or models), it is that check, with `models_listed` and `missing_models`. Null: never checked.",
  required: ["ok", "checked_at", "status", "latency_ms", "error"],
  properties: {
    ...checkProperties,
    models_listed: { type: "array", items: { type: "string" }, description: "Live checks only" },
    missing_models: { type: "array", items: { type: "string" }, description: "Live checks only" },
  },
});

const upstream: Json = {
  type: "object",
  properties: {
    id: { type: "string", format: "uuid" },
    base_url: { type: "string" },
    has_api_key: { type: "boolean" },
    enabled: { type: "boolean" },
    models: {
      type: "array",
      items: { type: "object", properties: { id: { type: "string" }, upstream_name: { type: "string" } } },
    },
    created_at: { type: "string", format: "date-time" },
    health,
  },
};

const provider: Json = {
  type: "object",
  properties: {
    id: { type: "string", format: "uuid" },
    name: { type: "string" },
    payout_address: { type: "string" },
    created_at: { type: "string", format: "date-time" },
    upstreams: { type: "array", items: upstream },
    stats: {
      type: "object",
      description:
        "`usage`: what payers were charged at this provider; `pending`: of it, not yet settled on chain (fee included); `settled`: settled on chain (gross) and `settled_provider_share` (after the fee).",
      properties: {
        requests: { type: "integer" },
        prompt_tokens: { type: "string" },
        completion_tokens: { type: "string" },
        usage: ref("Amount"),
        pending: ref("Amount"),
        settled: ref("Amount"),
        settled_provider_share: ref("Amount"),
        settlement_count: { type: "integer" },
      },
    },
    earnings: {
      type: "object",
      description: "The escrow's earnings of the payout address, from the chain watcher's mirror; `unclaimed` is `earningsOf`.",
      properties: { earned: ref("Amount"), claimed: ref("Amount"), unclaimed: ref("Amount") },
    },
  },
};

/** The Provider page's routes (server/web/providers/providerRoutes.ts). */
export function providerOpenApiPaths(): Json {
  return {
    "/api/provider": {
      get: {
        summary: "The signed-in wallet's provider: upstreams, requests served, tokens, earnings",
        tags: ["providers"],
        security: SESSION,
        responses: { "200": ok("The provider", provider), "401": notSignedIn, "404": notRegistered },
      },
      post: {
        summary: "Register as a provider paid at the signed-in address",
        tags: ["providers"],
        security: SESSION_AND_CSRF,
        requestBody: {
          required: true,
          content: json({ type: "object", required: ["name"], properties: { name: { type: "string", maxLength: 100 } } }),
        },
        responses: {
          "201": ok("Registered", provider),
          "400": badRequest,
          "401": notSignedIn,
          "403": csrf,
          "409": errorResponse("`provider_exists`"),
        },
      },
    },
    "/api/provider/upstreams": {
      post: {
        summary: "Add an upstream, after a live health check",
        description:
          "Calls `GET {base_url}/models` (5 s timeout, no redirects) before saving; an upstream that fails the check is saved disabled. Only http(s) URLs; loopback, private and link-local addresses only while PROVIDER_UPSTREAM_ALLOW_PRIVATE is true (the default, for local development): the gateway itself calls this URL (SSRF).",
        tags: ["providers"],
        security: SESSION_AND_CSRF,
        requestBody: {
          required: true,
          content: json({
            type: "object",
            required: ["base_url", "models"],
            properties: {
              base_url: { type: "string", description: "OpenAI-compatible, ending in /v1" },
              api_key: nullable({ type: "string", description: "Stored sealed (AES-256-GCM); never returned" }),
              models: { type: "array", items: { type: "string" }, description: "`networkId` or `networkId=upstreamName`" },
            },
          }),
        },
        responses: {
          "201": ok("The upstream with the check's result", upstream),
          "400": badRequest,
          "401": notSignedIn,
          "403": csrf,
          "404": notRegistered,
        },
      },
    },
    "/api/provider/upstreams/{id}": {
      parameters: idParameter,
      patch: {
        summary: "Edit an upstream: base URL, API key, models, enabled",
        description:
          "A field left out stays as it is: without `api_key` the stored key is kept, `api_key: null` deletes it, a string replaces it (sealed, never returned). When `base_url`, `api_key` or `models` change, the upstream is checked live as it will be (with the stored key when kept) and the result stored; if the check fails the upstream is saved disabled, unless `enabled` is given. Running gateways route by the new settings within CATALOG_CACHE_TTL_MS; requests already sent to the old ones finish there.",
        tags: ["providers"],
        security: SESSION_AND_CSRF,
        requestBody: {
          required: true,
          content: json({
            type: "object",
            minProperties: 1,
            additionalProperties: false,
            properties: {
              base_url: { type: "string", description: "OpenAI-compatible, ending in /v1" },
              api_key: nullable({ type: "string", description: "Replaces the stored key; null deletes it; absent keeps it" }),
              models: {
                type: "array",
                items: { type: "string" },
                description: "Replaces the whole list: `networkId` or `networkId=upstreamName`",
              },
              enabled: { type: "boolean" },
            },
          }),
        },
        responses: {
          "200": ok("The upstream, with the live check's result when one was made", upstream),
          "400": badRequest,
          "401": notSignedIn,
          "403": csrf,
          "404": upstreamNotFound,
        },
      },
      delete: {
        summary: "Remove an upstream",
        description:
          "Idempotent. The upstream is disabled, its key deleted, and it disappears from the provider; its row stays (marked removed) because usage records name it. Running gateways stop routing to it within CATALOG_CACHE_TTL_MS; requests in flight on it finish normally and are billed as usual.",
        tags: ["providers"],
        security: SESSION_AND_CSRF,
        responses: { "204": { description: "Removed" }, "401": notSignedIn, "403": csrf, "404": upstreamNotFound },
      },
    },
    "/api/provider/upstreams/{id}/check": {
      parameters: idParameter,
      post: {
        summary: "Check an upstream again, live",
        description:
          "Uses the stored API key, or tries `api_key` from the body when given. A check with the stored key is stored as the upstream's last health check; one with a key from the body is not (it is not the upstream as configured).",
        tags: ["providers"],
        security: SESSION_AND_CSRF,
        requestBody: { required: false, content: json({ type: "object", properties: { api_key: { type: "string" } } }) },
        responses: { "200": ok("The upstream with the check's result", upstream), "401": notSignedIn, "403": csrf, "404": upstreamNotFound },
      },
    },
  };
}
