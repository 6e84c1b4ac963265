import type { Middleware } from "koa";
import type { ApiKeyAuthenticator } from "../../domain/auth/apiKeyAuthenticator";
import { invalidApiKey, missingApiKey } from "../../domain/errors/gatewayErrors";

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/**
 * Resolves `Authorization: Bearer sk-shareai-…` to `ctx.state.apiKey`. With
 * `required: false` (the model list) a request without the header goes on
 * anonymously, but one that presents a key must present a valid one.
 */
export function authenticate(authenticator: ApiKeyAuthenticator, options: { required: boolean }): Middleware {
  return async (ctx, next) => {
    const header = ctx.get("authorization");
    if (!header && !options.required) return next();
    const secret = BEARER.exec(header)?.[1];
    if (!secret) throw missingApiKey();
    const key = await authenticator.authenticate(secret);
    if (!key) throw invalidApiKey();
    ctx.state.apiKey = key;
    return next();
  };
}
