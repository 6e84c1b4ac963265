import type { SessionCookies } from "../auth/cookies";
import type { PublicSite } from "../publicSite";
import type { Json } from "./openApiJson";
import { openApiPaths } from "./openApiPaths";
import { openApiSchemas } from "./openApiSchemas";

/**
 * The OpenAPI 3.1 description of the web API (`GET /api/openapi.json`), written
 * by hand next to the routes; a test checks that every route the router serves
 * is in it. The /v1 API is OpenAI's and is only sketched here.
 */
export function openApiDocument(site: PublicSite, cookies: SessionCookies): Json {
  return {
    openapi: "3.1.0",
    info: {
      title: "ShareAI web API",
      version: "1",
      description: [
        "The JSON API behind the ShareAI web app: Sign-In with Ethereum (EIP-4361), API keys, balances, usage and the model catalog.",
        "",
        "Money is never a JSON number: every amount is an `Amount`, exact decimal strings in micro base units, base units and USDC.",
        'Errors have OpenAI\'s shape, `{"error": {"message", "type", "param", "code"}}`.',
        "Every state-changing call needs the session cookie, an `Origin` of this site, and `x-csrf-token` equal to the CSRF cookie.",
        "",
        "The OpenAI-compatible API is served under `/v1` (`POST /v1/chat/completions`, `GET /v1/models`, `GET /v1/models/{id}`) with a Bearer API key; see OpenAI's API reference.",
      ].join("\n"),
    },
    servers: [{ url: site.origin }],
    components: {
      securitySchemes: {
        sessionCookie: {
          type: "apiKey",
          in: "cookie",
          name: cookies.session,
          description:
            "The opaque session id set by POST /api/auth/verify (HttpOnly, SameSite=Strict, Secure over https).",
        },
        csrfToken: {
          type: "apiKey",
          in: "header",
          name: "x-csrf-token",
          description: `The value of the \`${cookies.csrf}\` cookie (also returned as \`csrf_token\`), echoed on every state-changing call.`,
        },
        apiKey: { type: "http", scheme: "bearer", description: "A ShareAI API key, `sk-shareai-…`." },
      },
      schemas: openApiSchemas(site),
    },
    paths: openApiPaths(),
  };
}
