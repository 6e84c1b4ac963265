import Router from "@koa/router";
import type { Middleware } from "koa";
import type { GatewayConfig } from "../config";
import type { ApiKeyAuthenticator } from "../domain/auth/apiKeyAuthenticator";
import type { ModelCatalog, RateLimiter } from "../domain/ports";
import type { Address } from "../domain/types";
import { jsonBody } from "../http/middleware/jsonBody";
import { accountRoute } from "./account/accountRoute";
import { currentSession, issueNonce, signOut, verifySignIn } from "./auth/authRoutes";
import { sessionCookieNames } from "./auth/cookies";
import { csrfGuard } from "./auth/csrfGuard";
import { requireAccount } from "./auth/requireAccount";
import { loadSession, requireSession } from "./auth/sessionAuth";
import { signInRateLimit } from "./auth/signInRateLimit";
import { noStore } from "./http/noStore";
import { createKey, listKeys, revokeKey, updateKey } from "./keys/keyRoutes";
import { modelsRoute } from "./models/modelsRoute";
import { openApiDocument } from "./openapi/openApiDocument";
import { registerProviderRoutes } from "./providers/providerRoutes";
import { resolvePublicSite } from "./publicSite";
import { dailyUsage, exportUsageCsv, listUsage } from "./usage/usageRoutes";
import type { WebConfig } from "./webConfig";
import type { EscrowInfo, WebContext, WebStores } from "./webContext";

/** Request bodies of the web API are small: a sign-in message, a key's settings. */
const WEB_MAX_BODY_BYTES = 64 * 1024;

/** What the composition root passes to `createApp` to serve `/api`. */
export interface WebDeps {
  /** Where it reads and writes: `postgresWebStores(database)` over the gateway's database. */
  stores: WebStores;
  /** `loadWebConfig(env)`: chain id, session and nonce lifetimes. */
  config: WebConfig;
  /**
   * The URL browsers use, when it is not PUBLIC_BASE_URL (and PUBLIC_BASE_URL is
   * unset); without either, `http://HOST:PORT`, which needs a fixed PORT.
   */
  publicBaseUrl?: string;
  /** The escrow and token the deployment settles with, shown on the Account page. */
  escrow?: Partial<EscrowInfo>;
  /** When an account's thawing funds become withdrawable, from the chain watcher's mirror. */
  thawEndsAt?: (account: Address) => Promise<Date | null>;
  /** More /api routes built with the same auth (the settlement module's receipt route). */
  extraRoutes?: (router: Router, kit: WebRouteKit) => void;
}

/**
 * The middleware every /api route is built from, for routes added elsewhere:
 *
 * - `session`: no-store + the browser's session on `ctx.state.session`, for every route;
 * - `requireSession`: 401 `not_signed_in` without one;
 * - `csrf`: the Origin + double-submit check, for every state-changing route;
 * - `requireAccount`: a Bearer API key or the session (`ctx.state.principal`),
 *   for read-only routes API clients call too; see `principalMaySee`.
 */
export interface WebRouteKit {
  session: Middleware[];
  requireSession: Middleware;
  csrf: Middleware;
  requireAccount: Middleware;
  jsonBody: Middleware;
}

export interface WebApiInputs {
  web: WebDeps;
  gatewayConfig: Pick<GatewayConfig, "publicBaseUrl" | "host" | "port" | "catalogCacheTtlMs" | "healthCheck">;
  /** The cached catalog the /v1 routes use. */
  catalog: ModelCatalog;
  /** The /v1 routes' key authenticator (and its cache). */
  authenticator: ApiKeyAuthenticator;
  /** The /v1 routes' rate limiter: sign-in attempts per client address are limited with it too. */
  rateLimiter: RateLimiter;
  now: () => number;
}

/** The web app's JSON API under /api: sign-in, keys, account, usage, models and its OpenAPI document. */
export function createWebApi(inputs: WebApiInputs): Router {
  const { web: deps } = inputs;
  const site = resolvePublicSite(inputs.gatewayConfig, deps.publicBaseUrl);
  const cookies = sessionCookieNames(site);
  const web: WebContext = {
    stores: deps.stores,
    site,
    cookies,
    config: deps.config,
    catalog: inputs.catalog,
    authenticator: inputs.authenticator,
    escrow: { escrowAddress: deps.escrow?.escrowAddress ?? null, tokenAddress: deps.escrow?.tokenAddress ?? null },
    thawEndsAt: deps.thawEndsAt ?? null,
    catalogCacheTtlMs: inputs.gatewayConfig.catalogCacheTtlMs,
    healthCheck: inputs.gatewayConfig.healthCheck,
    now: inputs.now,
  };
  const kit: WebRouteKit = {
    session: [noStore, loadSession(web.stores.sessions, cookies, web.now)],
    requireSession,
    csrf: csrfGuard(site, cookies),
    requireAccount: requireAccount(inputs.authenticator),
    jsonBody: jsonBody(WEB_MAX_BODY_BYTES),
  };
  const signedIn = [...kit.session, kit.requireSession];
  const signedInWriting = [...signedIn, kit.csrf];
  const document = openApiDocument(site, cookies);

  const router = new Router();
  router.get("/api/openapi.json", (ctx) => {
    ctx.body = document;
  });
  router.get("/api/models", modelsRoute(web));

  const signInLimit = signInRateLimit(inputs.rateLimiter, deps.config.signInAttemptsPerMinute);
  router.get("/api/auth/nonce", signInLimit, ...kit.session, issueNonce(web));
  router.post("/api/auth/verify", signInLimit, ...kit.session, kit.csrf, kit.jsonBody, verifySignIn(web));
  router.post("/api/auth/logout", ...kit.session, kit.csrf, signOut(web));
  router.get("/api/auth/session", ...kit.session, currentSession(web));

  router.get("/api/account", ...signedIn, accountRoute(web));

  router.get("/api/keys", ...signedIn, listKeys(web));
  router.post("/api/keys", ...signedInWriting, kit.jsonBody, createKey(web));
  router.patch("/api/keys/:id", ...signedInWriting, kit.jsonBody, updateKey(web));
  router.delete("/api/keys/:id", ...signedInWriting, revokeKey(web));

  router.get("/api/usage", ...signedIn, listUsage(web));
  router.get("/api/usage.csv", ...signedIn, exportUsageCsv(web));
  router.get("/api/usage/daily", ...signedIn, dailyUsage(web));

  registerProviderRoutes(router, { signedIn, signedInWriting, jsonBody: kit.jsonBody }, {
    store: web.stores.providerPortal,
    allowPrivateAddresses: web.config.providerUpstreamAllowPrivate,
  });

  deps.extraRoutes?.(router, kit);
  return router;
}
