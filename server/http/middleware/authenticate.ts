import type { Context, Middleware } from "koa";
import type { ApiKeyAuthenticator } from "../../domain/auth/apiKeyAuthenticator";
import { invalidApiKey, missingApiKey } from "../../domain/errors/gatewayErrors";

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/**
 * Resolves `Authorization: Bearer sk-shareai-…` to `ctx.state.apiKey`. With
 * `required: false` (the model list) a request without the header goes on
 * anonymously, but one that presents a key must present a valid one.
 */
export function authenticate(authenticator: ApiKeyAuthenticator, options: { required: boolean }): Middleware {
  const check = keyCheck(authenticator, options);
  return async (ctx, next) => {
    await check(ctx);
    return next();
  };
}

/** `authenticate` as a plain call, for a route that runs its steps in one handler. */
export function keyCheck(authenticator: ApiKeyAuthenticator, options: { required: boolean }): (ctx: Context) => Promise<void> {
  return async (ctx) => {
    const header = ctx.req.headers.authorization;
    if (!header && !options.required) return;
    const secret = header ? BEARER.exec(header)?.[1] : undefined;
    if (!secret) throw missingApiKey();
    const key = await authenticator.authenticate(secret);
    if (!key) throw invalidApiKey();
    ctx.state.apiKey = key;
  };
}
