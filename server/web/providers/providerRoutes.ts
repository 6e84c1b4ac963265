import type Router from "@koa/router";
import type { Middleware } from "koa";
import { z } from "zod";
import { GatewayError } from "../../domain/errors/gatewayError";
import type { Address } from "../../domain/types";
import { validateBody } from "../../http/validation/validateBody";
import type { ProviderDetails, UpstreamDetails } from "../../persistence/providers/providerRepository";
import { sessionOf } from "../auth/sessionAuth";
import { amountFromBase, amountFromMicros } from "../http/amount";
import type { ProviderActivity, ProviderPortalStore } from "./providerPortalStore";
import { checkUpstream, resolvesToPrivateAddress, type UpstreamHealth } from "./upstreamHealth";

/**
 * The Provider page's API (docs/web-api.md, "Provider"): the signed-in wallet is the provider's
 * payout address.
 *
 * - `GET /api/provider`: the provider, its upstreams (with the last live check this gateway
 *   instance made), requests served, tokens, earnings settled, pending and unclaimed;
 * - `POST /api/provider`: register (`name`);
 * - `POST /api/provider/upstreams`: add an upstream after a live `GET {base_url}/models`;
 * - `POST /api/provider/upstreams/{id}/check`: check it again;
 * - `PATCH /api/provider/upstreams/{id}`: enable or disable it.
 */
export interface ProviderRouteOptions {
  store: ProviderPortalStore | undefined;
  /**
   * Whether an upstream URL may name a loopback, private or link-local address
   * (PROVIDER_UPSTREAM_ALLOW_PRIVATE: true for a local network, false in production).
   */
  allowPrivateAddresses: boolean;
  healthTimeoutMs?: number;
}

export interface ProviderRouteMiddleware {
  signedIn: Middleware[];
  signedInWriting: Middleware[];
  jsonBody: Middleware;
}

const RegisterBodySchema = z.object({ name: z.string().trim().min(1).max(100) }).strict();

const modelSpec = z
  .string()
  .trim()
  .regex(/^[^=\s]+(=[^=\s]+)?$/, "must be networkId or networkId=upstreamName");

const AddUpstreamBodySchema = z
  .object({
    base_url: z.string().trim().min(1).max(2000),
    api_key: z.string().min(1).max(4000).nullable().optional(),
    models: z.array(modelSpec).min(1).max(100),
  })
  .strict();

const CheckBodySchema = z.object({ api_key: z.string().min(1).max(4000).optional() }).strict();

const PatchUpstreamBodySchema = z.object({ enabled: z.boolean() }).strict();

export function registerProviderRoutes(router: Router, mw: ProviderRouteMiddleware, options: ProviderRouteOptions): void {
  const allowPrivate = options.allowPrivateAddresses;
  const timeoutMs = options.healthTimeoutMs;
  /** The last live check of each upstream, in this gateway instance. */
  const lastChecks = new Map<string, UpstreamHealth>();
  const storeOf = (): ProviderPortalStore => {
    if (!options.store) {
      throw new GatewayError(503, "provider_portal_not_configured", "This gateway does not serve the Provider page.");
    }
    return options.store;
  };
  const providerOf = async (address: Address): Promise<ProviderDetails> => {
    const provider = await storeOf().findByAddress(address);
    if (!provider) throw providerNotRegistered(address);
    return provider;
  };
  const upstreamOf = async (address: Address, id: string): Promise<UpstreamDetails> => {
    const upstream = (await providerOf(address)).upstreams.find((u) => u.id === id);
    if (!upstream) throw upstreamNotFound(id);
    return upstream;
  };
  const view = async (provider: ProviderDetails) =>
    providerView(provider, await storeOf().activity(provider.payoutAddress), lastChecks);

  router.get("/api/provider", ...mw.signedIn, async (ctx) => {
    ctx.body = await view(await providerOf(sessionOf(ctx).account));
  });

  router.post("/api/provider", ...mw.signedInWriting, mw.jsonBody, async (ctx) => {
    const { account } = sessionOf(ctx);
    const body = validateBody(RegisterBodySchema, ctx.request.body);
    if (await storeOf().findByAddress(account)) throw providerExists(account);
    let provider: ProviderDetails;
    try {
      provider = await storeOf().create({ payoutAddress: account, name: body.name });
    } catch (error) {
      if (/already paid at/.test((error as Error).message)) throw providerExists(account);
      throw error;
    }
    ctx.status = 201;
    ctx.body = await view(provider);
  });

  router.post("/api/provider/upstreams", ...mw.signedInWriting, mw.jsonBody, async (ctx) => {
    const provider = await providerOf(sessionOf(ctx).account);
    const body = validateBody(AddUpstreamBodySchema, ctx.request.body);
    const baseUrl = await checkedBaseUrl(body.base_url, allowPrivate);
    const models = parseModels(body.models);
    const apiKey = body.api_key ?? null;
    const health = await checkUpstream(baseUrl, apiKey, [...new Set(Object.values(models))], timeoutMs);
    let upstream: UpstreamDetails;
    try {
      // An upstream that fails its check is kept, disabled, so the provider can fix it and enable it.
      upstream = await storeOf().addUpstream({ providerId: provider.id, baseUrl, apiKey, models, enabled: health.ok });
    } catch (error) {
      const message = (error as Error).message;
      if (/^unknown models/.test(message)) throw badRequest(`Not models of this network: ${message.slice(16)}.`, "models");
      if (/encryption key/.test(message)) {
        throw badRequest("This gateway cannot store upstream API keys: UPSTREAM_KEY_ENCRYPTION_KEY is not set.", "api_key");
      }
      if (error instanceof TypeError) throw badRequest(message, "base_url");
      throw error;
    }
    lastChecks.set(upstream.id, health);
    ctx.status = 201;
    ctx.body = upstreamView(upstream, health);
  });

  router.post("/api/provider/upstreams/:id/check", ...mw.signedInWriting, mw.jsonBody, async (ctx) => {
    const { account } = sessionOf(ctx);
    const upstream = await upstreamOf(account, String(ctx.params.id));
    const body = validateBody(CheckBodySchema, ctx.request.body ?? {});
    const apiKey = body.api_key ?? (await storeOf().apiKeyOf(upstream));
    const health = await checkUpstream(upstream.baseUrl, apiKey, [...new Set(Object.values(upstream.models))], timeoutMs);
    lastChecks.set(upstream.id, health);
    ctx.body = upstreamView(upstream, health);
  });

  router.patch("/api/provider/upstreams/:id", ...mw.signedInWriting, mw.jsonBody, async (ctx) => {
    const { account } = sessionOf(ctx);
    const upstream = await upstreamOf(account, String(ctx.params.id));
    const body = validateBody(PatchUpstreamBodySchema, ctx.request.body);
    await storeOf().setUpstreamEnabled(upstream.id, body.enabled);
    ctx.body = upstreamView({ ...upstream, enabled: body.enabled }, lastChecks.get(upstream.id) ?? null);
  });
}

async function checkedBaseUrl(text: string, allowPrivate: boolean): Promise<string> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw badRequest(`Not a URL: ${text.slice(0, 200)}`, "base_url");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw badRequest("The base URL must start with http:// or https://.", "base_url");
  }
  if (url.username || url.password) throw badRequest("Put the API key in api_key, not in the URL.", "base_url");
  if (!allowPrivate && (await resolvesToPrivateAddress(url.hostname))) {
    throw badRequest(
      "This gateway does not call loopback, private or link-local addresses (PROVIDER_UPSTREAM_ALLOW_PRIVATE=false).",
      "base_url",
    );
  }
  url.search = "";
  url.hash = "";
  return url.toString().replace(/\/+$/, "");
}

/** `["a/b", "c/d=local-name"]` → `{ "a/b": "a/b", "c/d": "local-name" }`. */
export function parseModels(specs: string[]): Record<string, string> {
  const models: Record<string, string> = {};
  for (const spec of specs) {
    const [networkId, upstreamName] = spec.trim().split("=");
    if (networkId in models) throw badRequest(`The model ${networkId} is listed twice.`, "models");
    models[networkId] = upstreamName || networkId;
  }
  return models;
}

function upstreamView(upstream: UpstreamDetails, health: UpstreamHealth | null) {
  return {
    id: upstream.id,
    base_url: upstream.baseUrl,
    has_api_key: upstream.hasApiKey,
    enabled: upstream.enabled,
    models: Object.entries(upstream.models).map(([id, upstreamName]) => ({ id, upstream_name: upstreamName })),
    created_at: upstream.createdAt.toISOString(),
    health,
  };
}

function providerView(provider: ProviderDetails, activity: ProviderActivity, checks: Map<string, UpstreamHealth>) {
  return {
    id: provider.id,
    name: provider.name,
    payout_address: provider.payoutAddress,
    created_at: provider.createdAt.toISOString(),
    upstreams: provider.upstreams.map((u) => upstreamView(u, checks.get(u.id) ?? null)),
    stats: {
      requests: activity.requests,
      prompt_tokens: activity.promptTokens.toString(),
      completion_tokens: activity.completionTokens.toString(),
      usage: amountFromMicros(activity.usageMicros),
      pending: amountFromMicros(activity.pendingMicros),
      settled: amountFromBase(activity.settledBase),
      settled_provider_share: amountFromBase(activity.providerShareBase),
      settlement_count: activity.settlementCount,
    },
    earnings: {
      earned: amountFromBase(activity.earnedBase),
      claimed: amountFromBase(activity.claimedBase),
      unclaimed: amountFromBase(activity.unclaimedBase),
    },
  };
}

const badRequest = (message: string, param: string) =>
  new GatewayError(400, "invalid_request_error", message, param).withHeaders({ "x-should-retry": "false" });

const providerNotRegistered = (address: string) =>
  new GatewayError(404, "provider_not_registered", `No provider is paid at ${address}: register first (POST /api/provider).`).withHeaders(
    { "x-should-retry": "false" },
  );

const providerExists = (address: string) =>
  new GatewayError(409, "provider_exists", `A provider is already paid at ${address}.`).withHeaders({ "x-should-retry": "false" });

const upstreamNotFound = (id: string) =>
  new GatewayError(404, "upstream_not_found", `No upstream '${id.slice(0, 100)}' of this provider.`, "id").withHeaders({
    "x-should-retry": "false",
  });
