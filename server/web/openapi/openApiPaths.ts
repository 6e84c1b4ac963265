import { providerOpenApiPaths } from "../providers/providerOpenApi";
import { errorResponse, json, ok, ref, type Json } from "./openApiJson";

const SESSION = [{ sessionCookie: [] }];
const SESSION_AND_CSRF = [{ sessionCookie: [], csrfToken: [] }];

const notSignedIn = errorResponse("`not_signed_in`: no live session.");
const csrf = errorResponse(
  "`csrf_failed`: the Origin is not this site, or `x-csrf-token` does not match the CSRF cookie and session."
);
const badRequest = errorResponse("`invalid_request_error`: a bad parameter or body field, named in `param`.");
const signInLimited = errorResponse(
  "`rate_limit_exceeded`: this client address made more than SIGN_IN_ATTEMPTS_PER_MINUTE sign-in requests in a minute; `retry-after` says when to try again."
);
const keyNotFound = errorResponse(
  "`key_not_found`: no such key on this account (another account's key is not found either)."
);

const usageFilters: Json[] = [
  { name: "keyId", in: "query", schema: { type: "string", format: "uuid" }, description: "Only this key's requests." },
  { name: "model", in: "query", schema: { type: "string" }, description: "Only this model's requests." },
  {
    name: "from",
    in: "query",
    schema: { type: "string" },
    description: "Inclusive: an ISO 8601 date-time, or a UTC day `YYYY-MM-DD` (from its start).",
  },
  {
    name: "to",
    in: "query",
    schema: { type: "string" },
    description: "Exclusive: an ISO 8601 date-time, or a UTC day `YYYY-MM-DD` (through its end).",
  },
];

/** `paths`: every /api route, and the /v1 routes sketched. */
export function openApiPaths(): Json {
  return {
    "/api/openapi.json": {
      get: { summary: "This document", tags: ["meta"], responses: { "200": ok("OpenAPI 3.1", { type: "object" }) } },
    },
    "/api/auth/nonce": {
      get: {
        summary: "A single-use sign-in nonce",
        description:
          "Bound to this site's domain, the chain and this browser's CSRF token (the cookie is set if absent). Expires after SIWE_NONCE_TTL_MS.",
        tags: ["auth"],
        responses: { "200": ok("The nonce and the fields of the message to sign", ref("Nonce")), "429": signInLimited },
      },
    },
    "/api/auth/verify": {
      post: {
        summary: "Sign in with a signed EIP-4361 message",
        description:
          "Checks domain, scheme, URI, chain id, Issued At, expiration, not-before and the signature, then spends the nonce (a replay fails). Creates the account on first sign-in and sets the session cookie and a new CSRF cookie.",
        tags: ["auth"],
        security: [{ csrfToken: [] }],
        requestBody: { required: true, content: json(ref("SignIn")) },
        responses: {
          "200": ok("Signed in", ref("Session")),
          "400": badRequest,
          "401": errorResponse(
            "`sign_in_failed`: the message or signature was refused, or the nonce is unknown, used or expired; `param` names the field."
          ),
          "403": csrf,
          "429": signInLimited,
        },
      },
    },
    "/api/auth/logout": {
      post: {
        summary: "Sign out",
        description: "Deletes the session on the server and clears both cookies.",
        tags: ["auth"],
        security: [{ csrfToken: [] }],
        responses: { "204": { description: "Signed out" }, "403": csrf },
      },
    },
    "/api/auth/session": {
      get: {
        summary: "Who is signed in",
        tags: ["auth"],
        responses: { "200": ok("The session, or `signed_in: false`", ref("Session")) },
      },
    },
    "/api/models": {
      get: {
        summary: "The public model catalog",
        description:
          "Prices per 1M tokens and the number of providers serving each model. A provider counts when it has an enabled upstream for the model: health is probed per gateway instance and is not reflected here.",
        tags: ["models"],
        responses: {
          "200": ok("Every model", {
            type: "object",
            properties: { object: { const: "list" }, data: { type: "array", items: ref("Model") } },
          }),
        },
      },
    },
    "/api/account": {
      get: {
        summary: "The account's balance",
        tags: ["account"],
        security: SESSION,
        responses: { "200": ok("Balance split as DESIGN.md defines it", ref("Account")), "401": notSignedIn },
      },
    },
    "/api/keys": {
      get: {
        summary: "The account's API keys",
        tags: ["keys"],
        security: SESSION,
        responses: {
          "200": ok("Newest first, revoked keys included", {
            type: "object",
            properties: { object: { const: "list" }, data: { type: "array", items: ref("Key") } },
          }),
          "401": notSignedIn,
        },
      },
      post: {
        summary: "Create an API key",
        tags: ["keys"],
        security: SESSION_AND_CSRF,
        requestBody: { required: true, content: json(ref("KeyCreate")) },
        responses: {
          "201": ok("The key, its secret (shown once) and SDK snippets", ref("KeyCreated")),
          "400": badRequest,
          "401": notSignedIn,
          "403": csrf,
          "409": errorResponse("`too_many_keys`"),
        },
      },
    },
    "/api/keys/{id}": {
      parameters: [{ name: "id", in: "path", required: true, schema: { type: "string", format: "uuid" } }],
      patch: {
        summary: "Change a key's name, models, caps or rate limits",
        description: "Takes effect within API_KEY_CACHE_TTL_MS.",
        tags: ["keys"],
        security: SESSION_AND_CSRF,
        requestBody: { required: true, content: json(ref("KeyUpdate")) },
        responses: {
          "200": ok("The key", ref("Key")),
          "400": badRequest,
          "401": notSignedIn,
          "403": csrf,
          "404": keyNotFound,
          "409": errorResponse("`key_revoked`"),
        },
      },
      delete: {
        summary: "Revoke a key",
        description: "Idempotent. The key stops working within API_KEY_CACHE_TTL_MS; its usage history stays.",
        tags: ["keys"],
        security: SESSION_AND_CSRF,
        responses: { "200": ok("The revoked key", ref("Key")), "401": notSignedIn, "403": csrf, "404": keyNotFound },
      },
    },
    "/api/usage": {
      get: {
        summary: "The account's requests, newest first",
        tags: ["usage"],
        security: SESSION,
        parameters: [
          ...usageFilters,
          {
            name: "cursor",
            in: "query",
            schema: { type: "string" },
            description: "`next_cursor` of the previous page.",
          },
          { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 200, default: 50 } },
        ],
        responses: { "200": ok("A page", ref("UsagePage")), "400": badRequest, "401": notSignedIn },
      },
    },
    "/api/usage.csv": {
      get: {
        summary: "Export the account's requests as CSV",
        description: "Same filters as /api/usage; every matching record, streamed, newest first.",
        tags: ["usage"],
        security: SESSION,
        parameters: usageFilters,
        responses: {
          "200": { description: "RFC 4180 CSV", content: { "text/csv": { schema: { type: "string" } } } },
          "400": badRequest,
          "401": notSignedIn,
        },
      },
    },
    "/api/usage/daily": {
      get: {
        summary: "Spend per UTC day, for the chart",
        tags: ["usage"],
        security: SESSION,
        parameters: [
          {
            name: "days",
            in: "query",
            schema: { type: "integer", minimum: 1, maximum: 366, default: 30 },
            description: "Days ending today (UTC).",
          },
          usageFilters[0],
          usageFilters[1],
        ],
        responses: {
          "200": ok("Every day, oldest first, zeros included", ref("DailyUsage")),
          "400": badRequest,
          "401": notSignedIn,
        },
      },
    },
    "/api/usage/{requestId}/receipt": {
      get: {
        summary: "A request's receipt with its Merkle proof, signed voucher and settlement transaction",
        description:
          "Served by the settlement module when it runs. Authorised by the API key that made the request (Bearer) or by the account's session.",
        tags: ["usage"],
        security: [{ apiKey: [] }, { sessionCookie: [] }],
        parameters: [{ name: "requestId", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          "200": { description: "The receipt bundle", content: json({ type: "object" }) },
          "401": errorResponse("`not_signed_in`, `missing_api_key` or `invalid_api_key`"),
          "404": errorResponse("`request_not_found`: no such request for this key or account."),
          "409": errorResponse(
            "`receipt_not_ready`: the request is not in a signed voucher yet; `Retry-After` says when to ask again."
          ),
          "503": errorResponse("`settlement_not_configured`: this gateway runs without a chain."),
        },
      },
    },
    ...providerOpenApiPaths(),
    "/api/providers/{address}/vouchers": {
      get: {
        summary: "A provider's latest signed voucher per payer, for settling without the gateway",
        description:
          "Public: what it reveals appears in `Settled` events within one settlement interval, and a voucher can only pay the provider what it is owed (docs/receipts.md).",
        tags: ["providers"],
        parameters: [{ name: "address", in: "path", required: true, schema: { type: "string" } }],
        responses: {
          "200": { description: "The voucher file (format `shareai-provider-vouchers/1`)", content: json({ type: "object" }) },
          "400": badRequest,
        },
      },
    },
    "/v1/chat/completions": {
      post: {
        summary: "OpenAI Chat Completions (stream and not)",
        tags: ["openai"],
        security: [{ apiKey: [] }],
        externalDocs: { url: "https://platform.openai.com/docs/api-reference/chat/create" },
        responses: { "200": { description: "OpenAI's response or event stream" } },
      },
    },
    "/v1/models": {
      get: {
        summary: "OpenAI model list (with a key: only the models it may use)",
        tags: ["openai"],
        externalDocs: { url: "https://platform.openai.com/docs/api-reference/models/list" },
        responses: { "200": { description: "OpenAI's model list, with pricing" } },
      },
    },
  };
}
