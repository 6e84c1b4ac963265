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
import {
  checkUpstream,
  healthRecordOf,
  lastCheckView,
  resolvesToPrivateAddress,
  type LastUpstreamCheck,
  type UpstreamHealth,
} from "./upstreamHealth";

/**
 * The Provider page's API (docs/web-api.md, "Provider"): the signed-in wallet is the provider's
 * payout address, and only its own upstreams are found.
 *
 * - `GET /api/provider`: the provider, its upstreams (with the last health check, stored),
 *   requests served, tokens, earnings settled, pending and unclaimed;
 * - `POST /api/provider`: register (`name`);
 * - `POST /api/provider/upstreams`: add an upstream after a live `GET {base_url}/models`;
 * - `POST /api/provider/upstreams/{id}/check`: check it again;
 * - `PATCH /api/provider/upstreams/{id}`: edit its base URL, key, models, enabled (checked live
 *   again when the base URL, key or models change);
 * - `DELETE /api/provider/upstreams/{id}`: remove it (kept in the database for its usage history).
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

const baseUrlField = z.string().trim().min(1).max(2000);
const apiKeyField = z.string().min(1).max(4000);
const modelsField = z.array(modelSpec).min(1).max(100);

const AddUpstreamBodySchema = z
  .object({ base_url: baseUrlField, api_key: apiKeyField.nullable().optional(), models: modelsField })
  .strict();

const CheckBodySchema = z.object({ api_key: apiKeyField.optional() }).strict();

/** A field left out stays as it is; `api_key: null` deletes the stored key. */
const PatchUpstreamBodySchema = z
  .object({
    base_url: baseUrlField.optional(),
    api_key: apiKeyField.nullable().optional(),
    models: modelsField.optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, "must change at least one field");

export function registerProviderRoutes(router: Router, mw: ProviderRouteMiddleware, options: ProviderRouteOptions): void {
  const allowPrivate = options.allowPrivateAddresses;
  const timeoutMs = options.healthTimeoutMs;
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
  const view = async (provider: ProviderDetails) => providerView(provider, await storeOf().activity(provider.payoutAddress));
  const check = (baseUrl: string, apiKey: string | null, models: Record<string, string>) =>
    checkUpstream(baseUrl, apiKey, [...new Set(Object.values(models))], timeoutMs);

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
    const health = await check(baseUrl, apiKey, models);
    // An upstream that fails its check is kept, disabled, so the provider can fix it and enable it.
    const upstream = await saving(() =>
      storeOf().addUpstream({
        providerId: provider.id,
        baseUrl,
        apiKey,
        models,
        enabled: health.ok,
        health: healthRecordOf(health),
      }),
    );
    ctx.status = 201;
    ctx.body = upstreamView(upstream, health);
  });

  router.post("/api/provider/upstreams/:id/check", ...mw.signedInWriting, mw.jsonBody, async (ctx) => {
    const { account } = sessionOf(ctx);
    const upstream = await upstreamOf(account, String(ctx.params.id));
    const body = validateBody(CheckBodySchema, ctx.request.body ?? {});
    const health = await check(upstream.baseUrl, body.api_key ?? (await storeOf().apiKeyOf(upstream.id)), upstream.models);
    // A key from the body is only tried: neither it nor its result says anything about the upstream as stored.
    if (body.api_key === undefined) await storeOf().recordHealth(upstream.id, healthRecordOf(health));
    ctx.body = upstreamView(upstream, health);
  });

  router.patch("/api/provider/upstreams/:id", ...mw.signedInWriting, mw.jsonBody, async (ctx) => {
    const { account } = sessionOf(ctx);
    const id = String(ctx.params.id);
    const upstream = await upstreamOf(account, id);
    const body = validateBody(PatchUpstreamBodySchema, ctx.request.body);
    const baseUrl = body.base_url === undefined ? undefined : await checkedBaseUrl(body.base_url, allowPrivate);
    const models = body.models === undefined ? undefined : parseModels(body.models);
    let health: UpstreamHealth | undefined;
    if (baseUrl !== undefined || models !== undefined || body.api_key !== undefined) {
      // Checked as it will be after the edit: the new address, key and models (the stored key when kept).
      const apiKey = body.api_key === undefined ? await storeOf().apiKeyOf(upstream.id) : body.api_key;
      health = await check(baseUrl ?? upstream.baseUrl, apiKey, models ?? upstream.models);
    }
    // A change that fails its check disables the upstream, as adding it would have, unless `enabled` says otherwise.
    const enabled = body.enabled ?? (health && !health.ok ? false : undefined);
    const updated = await saving(() =>
      storeOf().updateUpstream(upstream.id, {
        baseUrl,
        apiKey: body.api_key,
        models,
        enabled,
        health: health && healthRecordOf(health),
      }),
    );
    if (!updated) throw upstreamNotFound(id);
    ctx.body = upstreamView(updated, health ?? storedHealth(updated));
  });

  router.delete("/api/provider/upstreams/:id", ...mw.signedInWriting, async (ctx) => {
    const provider = await providerOf(sessionOf(ctx).account);
    const id = String(ctx.params.id);
    if (!(await storeOf().removeUpstream(provider.id, id))) throw upstreamNotFound(id);
    ctx.status = 204;
  });
}

/** Runs a write of an upstream, turning the repository's refusals into 400s naming the field. */
async function saving<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    const message = (error as Error).message;
    if (/^unknown models/.test(message)) throw badRequest(`Not models of this network: ${message.slice(16)}.`, "models");
    if (/encryption key/.test(message)) {
      throw badRequest("This gateway cannot store upstream API keys: UPSTREAM_KEY_ENCRYPTION_KEY is not set.", "api_key");
    }
    if (error instanceof TypeError) throw badRequest(message, "base_url");
    throw error;
  }
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

const storedHealth = (upstream: UpstreamDetails): LastUpstreamCheck | null =>
  upstream.health ? lastCheckView(upstream.health) : null;

/** `health`: a live check's full result when one was just made, else the last stored check. */
function upstreamView(upstream: UpstreamDetails, health: UpstreamHealth | LastUpstreamCheck | null) {
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

function providerView(provider: ProviderDetails, activity: ProviderActivity) {
  return {
    id: provider.id,
    name: provider.name,
    payout_address: provider.payoutAddress,
    created_at: provider.createdAt.toISOString(),
    upstreams: provider.upstreams.map((u) => upstreamView(u, storedHealth(u))),
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
