import { GatewayError } from "../domain/errors/gatewayError";

/**
 * The web API's own errors, answered by the gateway's central handler in
 * OpenAI's shape like every other: `{"error": {"message", "type", "param", "code"}}`.
 */

export const notSignedIn = () =>
  new GatewayError(401, "not_signed_in", "Sign in with your wallet first (POST /api/auth/verify).");

export const notSignedInOrKey = () =>
  new GatewayError(
    401,
    "not_signed_in",
    "Sign in with your wallet, or send the API key that made the request as `Authorization: Bearer sk-shareai-…`."
  );

/** Why a sign-in was refused, in plain words; `param` names the message field at fault. */
export const signInFailed = (message: string, param: string | null) =>
  new GatewayError(401, "sign_in_failed", message, param);

export const csrfFailed = (reason: string) =>
  new GatewayError(
    403,
    "csrf_failed",
    `This request was refused as a possible cross-site request forgery: ${reason}. Reload the page and try again.`
  );

export const keyNotFound = (id: string) =>
  new GatewayError(404, "key_not_found", `No API key '${id.slice(0, 100)}' on this account.`, "id");

export const keyRevoked = () =>
  new GatewayError(409, "key_revoked", "This API key is revoked; create a new key instead.").withHeaders({
    "x-should-retry": "false",
  });

export const tooManyKeys = (limit: number) =>
  new GatewayError(
    409,
    "too_many_keys",
    `An account can have at most ${limit} active API keys; revoke one first.`
  ).withHeaders({ "x-should-retry": "false" });
