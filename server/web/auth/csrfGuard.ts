import type { Context, Middleware } from "koa";
import type { PublicSite } from "../publicSite";
import { csrfFailed } from "../webErrors";
import { readCookie, type SessionCookies } from "./cookies";
import type { Session } from "./sessionAuth";
import { sameToken, sha256Hex, TOKEN_PATTERN } from "./tokens";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
export const CSRF_HEADER = "x-csrf-token";

/**
 * Every state-changing call (anything but GET/HEAD/OPTIONS) must prove it
 * comes from the web app itself, two independent ways:
 *
 * 1. Origin: the browser-set `Origin` header (or, lacking it, the `Referer`'s
 *    origin) is PUBLIC_BASE_URL's origin, and `Sec-Fetch-Site`, when the
 *    browser sends it, is not `cross-site`. Pages of other sites cannot forge
 *    these headers.
 * 2. Double submit, bound to the session: the `x-csrf-token` header equals the
 *    CSRF cookie, and its SHA-256 is the one stored with the session. Another
 *    site can make the browser send the cookie but can neither read it nor set
 *    the header; and a token planted from elsewhere would not match the session.
 *
 * Without a session (signing in), the token is still checked against the
 * cookie here, and the sign-in route checks that its nonce was issued to this
 * very token (`ctx.state.csrfTokenSha256`).
 *
 * Runs after `loadSession`.
 */
export function csrfGuard(site: PublicSite, cookies: SessionCookies): Middleware {
  return async (ctx, next) => {
    if (SAFE_METHODS.has(ctx.method)) return next();
    const originProblem = checkOrigin(ctx, site);
    if (originProblem) throw csrfFailed(originProblem);

    const header = ctx.get(CSRF_HEADER);
    const cookie = readCookie(ctx, cookies.csrf, TOKEN_PATTERN);
    if (!header) throw csrfFailed(`the ${CSRF_HEADER} header is missing`);
    if (!cookie) throw csrfFailed("the CSRF cookie is missing");
    if (!sameToken(header, cookie)) throw csrfFailed(`the ${CSRF_HEADER} header does not match the CSRF cookie`);

    const tokenSha256 = sha256Hex(header);
    const session = ctx.state.session as Session | null | undefined;
    if (session && !sameToken(tokenSha256, session.csrfSha256)) {
      throw csrfFailed("the CSRF token does not belong to this session");
    }
    ctx.state.csrfTokenSha256 = tokenSha256;
    return next();
  };
}

function checkOrigin(ctx: Context, site: PublicSite): string | null {
  if (ctx.get("sec-fetch-site") === "cross-site") return "it was sent by another site";
  const origin = ctx.get("origin");
  if (origin) return origin === site.origin ? null : `it comes from ${origin.slice(0, 100)}, not ${site.origin}`;
  const referer = ctx.get("referer");
  if (referer) return originOf(referer) === site.origin ? null : `it comes from another site, not ${site.origin}`;
  return "it carries neither an Origin nor a Referer header";
}

function originOf(url: string): string | null {
  try {
    return new URL(url).origin;
  } catch {
    return null;
  }
}
