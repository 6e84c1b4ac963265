import type { Context, Middleware } from "koa";
import type { Session } from "../../persistence/sessions";
import { notSignedIn } from "../webErrors";
import { readCookie, type SessionCookies } from "./cookies";
import { sha256Hex, TOKEN_PATTERN } from "./tokens";

export type { Session };

/** How the web layer finds a session: by the SHA-256 of its cookie, live ones only. */
export interface SessionLookup {
  find(idSha256: string, now: Date): Promise<Session | null>;
}

/**
 * Puts the browser's live session, if any, on `ctx.state.session` (null
 * otherwise). A cookie that is not shaped like a session id costs no query.
 */
export function loadSession(sessions: SessionLookup, cookies: SessionCookies, now: () => number): Middleware {
  return async (ctx, next) => {
    const id = readCookie(ctx, cookies.session, TOKEN_PATTERN);
    ctx.state.session = id ? await sessions.find(sha256Hex(id), new Date(now())) : null;
    return next();
  };
}

/** After `loadSession`: 401 `not_signed_in` without a live session. */
export const requireSession: Middleware = (ctx, next) => {
  if (!ctx.state.session) throw notSignedIn();
  return next();
};

/** The session `requireSession` let through. */
export function sessionOf(ctx: Context): Session {
  const session = ctx.state.session as Session | null | undefined;
  if (!session) throw notSignedIn();
  return session;
}
