import type { Middleware } from "koa";
import { invalidRequest } from "../../domain/errors/gatewayErrors";
import { validateBody } from "../../http/validation/validateBody";
import type { ApiKeySettings } from "../../persistence/apiKeys/apiKeyRepository";
import { utcDay } from "../../persistence/ledger/utcDay";
import type { KeyWithSpend } from "../../persistence/usage";
import { sessionOf } from "../auth/sessionAuth";
import type { WebContext } from "../webContext";
import { keyNotFound, keyRevoked, tooManyKeys } from "../webErrors";
import { CreateKeyBodySchema, UpdateKeyBodySchema, type UpdateKeyBody } from "./keyInput";
import { keyView } from "./keyView";
import { sdkSnippets } from "./sdkSnippets";

/** Active keys per account: room for every app and environment, not for a runaway script. */
export const MAX_ACTIVE_KEYS = 100;
const PLACEHOLDER_MODEL = "MODEL_ID";

/** `GET /api/keys`: the account's keys, newest first, revoked ones included. */
export function listKeys(web: WebContext): Middleware {
  return async (ctx) => {
    const { account } = sessionOf(ctx);
    const keys = await web.stores.accountKeys.list(account, today(web));
    ctx.body = { object: "list", data: keys.map(keyView) };
  };
}

/** `POST /api/keys`: creates a key and returns its secret, this once, with code to paste. */
export function createKey(web: WebContext): Middleware {
  return async (ctx) => {
    const { account } = sessionOf(ctx);
    const body = validateBody(CreateKeyBodySchema, ctx.request.body);
    const models = await checkModelsExist(web, body.allowed_models ?? null);
    if ((await web.stores.accountKeys.countActive(account)) >= MAX_ACTIVE_KEYS) throw tooManyKeys(MAX_ACTIVE_KEYS);
    const created = await web.stores.apiKeys.create({
      account,
      name: body.name,
      allowedModels: body.allowed_models ?? null,
      dailySpendCapBase: body.daily_spend_cap_base ?? null,
      totalSpendCapBase: body.total_spend_cap_base ?? null,
      requestsPerMinute: body.requests_per_minute ?? null,
      tokensPerMinute: body.tokens_per_minute ?? null,
    });
    const key = await ownKey(web, account, created.apiKey.id);
    const exampleModel = body.allowed_models?.[0] ?? models[0] ?? PLACEHOLDER_MODEL;
    ctx.status = 201;
    ctx.body = {
      key: keyView(key),
      secret: created.secret,
      base_url: web.site.apiBaseUrl,
      snippets: sdkSnippets(web.site.apiBaseUrl, created.secret, exampleModel),
    };
  };
}

/**
 * `PATCH /api/keys/{id}`: changes the name, caps, limits or models. The
 * gateway caches keys for API_KEY_CACHE_TTL_MS, so a change reaches requests
 * within that time.
 */
export function updateKey(web: WebContext): Middleware {
  return async (ctx) => {
    const { account } = sessionOf(ctx);
    const key = await ownKey(web, account, String(ctx.params.id));
    const body = validateBody(UpdateKeyBodySchema, ctx.request.body);
    if (key.revokedAt !== null) throw keyRevoked();
    if (body.allowed_models) await checkModelsExist(web, body.allowed_models);
    await web.stores.apiKeys.update(key.id, settingsChange(body));
    ctx.body = keyView(await ownKey(web, account, key.id));
  };
}

/** `DELETE /api/keys/{id}`: revokes the key for good (idempotent). The record stays, for its usage history. */
export function revokeKey(web: WebContext): Middleware {
  return async (ctx) => {
    const { account } = sessionOf(ctx);
    const key = await ownKey(web, account, String(ctx.params.id));
    await web.stores.apiKeys.revoke(key.id);
    ctx.body = keyView(await ownKey(web, account, key.id));
  };
}

/** The account's own key: another account's key is "not found", exactly like a key that does not exist. */
async function ownKey(web: WebContext, account: string, id: string): Promise<KeyWithSpend> {
  const key = await web.stores.accountKeys.get(account, id, today(web));
  if (!key) throw keyNotFound(id);
  return key;
}

/** Every listed model must be on the network; returns the catalog's ids. */
async function checkModelsExist(web: WebContext, allowed: string[] | null): Promise<string[]> {
  const catalog = (await web.catalog.list()).map((model) => model.id);
  if (allowed) {
    const known = new Set(catalog);
    const unknown = allowed.findIndex((id) => !known.has(id));
    if (unknown >= 0) {
      throw invalidRequest(
        `The model '${allowed[unknown].slice(0, 200)}' does not exist on the network.`,
        `allowed_models.[${unknown}]`
      );
    }
  }
  return catalog;
}

function settingsChange(body: UpdateKeyBody): Partial<ApiKeySettings> {
  const change: Partial<ApiKeySettings> = {};
  if (body.name !== undefined) change.name = body.name;
  if (body.allowed_models !== undefined) change.allowedModels = body.allowed_models;
  if (body.daily_spend_cap_base !== undefined) change.dailySpendCapBase = body.daily_spend_cap_base;
  if (body.total_spend_cap_base !== undefined) change.totalSpendCapBase = body.total_spend_cap_base;
  if (body.requests_per_minute !== undefined) change.requestsPerMinute = body.requests_per_minute;
  if (body.tokens_per_minute !== undefined) change.tokensPerMinute = body.tokens_per_minute;
  return change;
}

function today(web: WebContext): string {
  return utcDay(new Date(web.now()));
}
