import type { Context } from "koa";
import type { PublicSite } from "../publicSite";

/**
 * The two cookies of a browser session.
 *
 * - the session cookie: the opaque session id; `HttpOnly`, so page scripts (and
 *   any injected script) cannot read it;
 * - the CSRF cookie: a token the page reads and echoes in `x-csrf-token`
 *   (double submit); not `HttpOnly` on purpose.
 *
 * Both are `SameSite=Strict`: the JSON API is only ever called by the web
 * app's own `fetch`, which is same-site, so Strict costs nothing here (the
 * app's pages are static and do not depend on the cookie; a user arriving from
 * a link elsewhere loads the page, whose own fetches then carry it), while it
 * keeps the cookie off every request another site starts, even top-level
 * GET navigations that Lax would let through (a CSV export link, say).
 * Over https they are `Secure` with the `__Host-` prefix, which also forbids a
 * `Domain` attribute, so a sibling subdomain cannot plant or shadow them.
 */
export interface SessionCookies {
  session: string;
  csrf: string;
}

export function sessionCookieNames(site: PublicSite): SessionCookies {
  const prefix = site.secure ? "__Host-" : "";
  return { session: `${prefix}shareai_session`, csrf: `${prefix}shareai_csrf` };
}

export interface CookieOptions {
  httpOnly: boolean;
  secure: boolean;
  maxAgeMs: number;
}

/**
 * Written by hand rather than with `ctx.cookies.set`: behind a TLS-terminating
 * load balancer the connection to us is plain http, and the cookies library
 * refuses `Secure` there; whether the cookie is Secure follows PUBLIC_BASE_URL.
 */
export function setCookie(ctx: Context, name: string, value: string, options: CookieOptions): void {
  const maxAgeSeconds = Math.max(0, Math.floor(options.maxAgeMs / 1000));
  const parts = [`${name}=${value}`, "Path=/", `Max-Age=${maxAgeSeconds}`, "SameSite=Strict"];
  if (options.httpOnly) parts.push("HttpOnly");
  if (options.secure) parts.push("Secure");
  ctx.append("Set-Cookie", parts.join("; "));
}

export function clearCookie(ctx: Context, name: string, options: Omit<CookieOptions, "maxAgeMs">): void {
  const parts = [`${name}=`, "Path=/", "Max-Age=0", "Expires=Thu, 01 Jan 1970 00:00:00 GMT", "SameSite=Strict"];
  if (options.httpOnly) parts.push("HttpOnly");
  if (options.secure) parts.push("Secure");
  ctx.append("Set-Cookie", parts.join("; "));
}

/** A cookie's value, or undefined when absent or not shaped like one of our tokens. */
export function readCookie(ctx: Context, name: string, pattern: RegExp): string | undefined {
  const value = ctx.cookies.get(name);
  return value !== undefined && pattern.test(value) ? value : undefined;
}
