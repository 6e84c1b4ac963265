import type { Context, Middleware } from "koa";
import type { ApiKeyAuthenticator } from "../../domain/auth/apiKeyAuthenticator";
import type { ApiKey, Address } from "../../domain/types";
import { authenticate } from "../../http/middleware/authenticate";
import { notSignedInOrKey } from "../webErrors";
import type { Session } from "./sessionAuth";

/** Who is asking: a signed-in browser, or a program with one of the account's API keys. */
export type Principal =
  | { via: "session"; account: Address; session: Session }
  | { via: "api_key"; account: Address; apiKey: ApiKey };

/**
 * For read-only routes that both the web app and API clients call (a
 * request's receipt): a request with an `Authorization` header is judged by
 * its key alone (401 `missing_api_key`/`invalid_api_key` as on /v1), one
 * without by its session (401 `not_signed_in`). Sets `ctx.state.principal`.
 * Runs after `loadSession`. Not for state-changing routes: those need the
 * session and the CSRF guard.
 */
export function requireAccount(authenticator: ApiKeyAuthenticator): Middleware {
  const requireKey = authenticate(authenticator, { required: true });
  return async (ctx, next) => {
    if (ctx.get("authorization")) {
      return requireKey(ctx, async () => {
        const apiKey = ctx.state.apiKey as ApiKey;
        ctx.state.principal = { via: "api_key", account: apiKey.account, apiKey } satisfies Principal;
        await next();
      });
    }
    const session = ctx.state.session as Session | null | undefined;
    if (!session) throw notSignedInOrKey();
    ctx.state.principal = { via: "session", account: session.account, session } satisfies Principal;
    return next();
  };
}

export function principalOf(ctx: Context): Principal {
  const principal = ctx.state.principal as Principal | undefined;
  if (!principal) throw notSignedInOrKey();
  return principal;
}

/**
 * Whether the principal may see a request's records: a session sees every
 * request of its account; a key sees only the requests it made itself (a
 * leaked key must not reveal what the account's other keys did).
 */
export function principalMaySee(principal: Principal, request: { account: Address; keyId: string }): boolean {
  if (principal.via === "session") return principal.account === request.account;
  return principal.apiKey.id === request.keyId && principal.apiKey.account === request.account;
}
