import { randomBytes } from "node:crypto";
import type { Context, Middleware } from "koa";
import { z } from "zod";
import { invalidRequest } from "../../domain/errors/gatewayErrors";
import { validateBody } from "../../http/validation/validateBody";
import type { WebContext } from "../webContext";
import { signInFailed } from "../webErrors";
import { clearCookie, readCookie, setCookie } from "./cookies";
import type { Session } from "./sessionAuth";
import { verifySiweMessage } from "./siweVerification";
import { newToken, sha256Hex, TOKEN_PATTERN } from "./tokens";

/** A wallet's clock may run this far ahead of ours. */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;
export const SIGN_IN_STATEMENT = "Sign in to ShareAI.";

export const VerifyBodySchema = z
  .object({
    message: z.string().min(1).max(4096),
    signature: z
      .string()
      .regex(/^0x[0-9a-fA-F]+$/, "must be a 0x-prefixed hex signature")
      .max(1024),
  })
  .strict();
export type VerifyBody = z.infer<typeof VerifyBodySchema>;

/**
 * `GET /api/auth/nonce`: a fresh single-use nonce for this site's domain and
 * chain, bound to this browser's CSRF token (issued now if the browser has
 * none), with the fields the web app needs to build the EIP-4361 message.
 */
export function issueNonce(web: WebContext): Middleware {
  return async (ctx) => {
    const csrfToken = readCookie(ctx, web.cookies.csrf, TOKEN_PATTERN) ?? newToken();
    const issued = await web.stores.nonces.issue({
      nonce: siweNonce(),
      domain: web.site.host,
      chainId: web.config.chainId,
      bindingSha256: sha256Hex(csrfToken),
      now: new Date(web.now()),
      ttlMs: web.config.nonceTtlMs,
    });
    setCsrfCookie(ctx, web, csrfToken, web.config.sessionTtlMs);
    ctx.body = {
      nonce: issued.nonce,
      domain: issued.domain,
      uri: web.site.origin,
      chain_id: issued.chainId,
      version: "1",
      statement: SIGN_IN_STATEMENT,
      issued_at: issued.createdAt.toISOString(),
      expiration_time: issued.expiresAt.toISOString(),
      csrf_token: csrfToken,
    };
  };
}

/**
 * `POST /api/auth/verify {message, signature}`, after the CSRF guard: check
 * the message and signature → spend the nonce (atomically: a replay finds it
 * gone) → create the account if new → start a session with a fresh id and a
 * fresh CSRF token.
 */
export function verifySignIn(web: WebContext): Middleware {
  return async (ctx) => {
    const body = validateBody(VerifyBodySchema, ctx.request.body);
    const now = new Date(web.now());
    const verification = await verifySiweMessage(body.message, body.signature, {
      site: web.site,
      chainId: web.config.chainId,
      now,
      maxClockSkewMs: MAX_CLOCK_SKEW_MS,
      maxAgeMs: web.config.nonceTtlMs,
    });
    if (!verification.isValid) {
      if (verification.invalidReason === "unparseable_message") throw invalidRequest(verification.detail, "message");
      throw signInFailed(verification.detail, verification.param);
    }
    const consumed = await web.stores.nonces.consume({
      nonce: verification.message.nonce,
      domain: web.site.host,
      chainId: web.config.chainId,
      bindingSha256: ctx.state.csrfTokenSha256 as string,
      now,
    });
    if (!consumed) {
      throw signInFailed(
        "The sign-in nonce is unknown, already used, expired, or was issued to another browser; request a new one.",
        "nonce"
      );
    }

    const previous = ctx.state.session as Session | null;
    if (previous) await web.stores.sessions.delete(previous.idSha256);
    const sessionId = newToken();
    const csrfToken = newToken();
    const session = await web.stores.sessions.create({
      idSha256: sha256Hex(sessionId),
      account: verification.address,
      csrfSha256: sha256Hex(csrfToken),
      chainId: web.config.chainId,
      createdAt: now,
      expiresAt: new Date(now.getTime() + web.config.sessionTtlMs),
    });
    setCookie(ctx, web.cookies.session, sessionId, {
      httpOnly: true,
      secure: web.site.secure,
      maxAgeMs: web.config.sessionTtlMs,
    });
    setCsrfCookie(ctx, web, csrfToken, web.config.sessionTtlMs);
    ctx.body = sessionView(session, csrfToken);
  };
}

/** `POST /api/auth/logout`: ends the session on the server (the cookie alone no longer works) and clears both cookies. */
export function signOut(web: WebContext): Middleware {
  return async (ctx) => {
    const session = ctx.state.session as Session | null;
    if (session) await web.stores.sessions.delete(session.idSha256);
    clearCookie(ctx, web.cookies.session, { httpOnly: true, secure: web.site.secure });
    clearCookie(ctx, web.cookies.csrf, { httpOnly: false, secure: web.site.secure });
    ctx.status = 204;
  };
}

/** `GET /api/auth/session`: who is signed in (200 either way, so the app can ask without an error). */
export function currentSession(web: WebContext): Middleware {
  return (ctx) => {
    const session = ctx.state.session as Session | null;
    if (!session) {
      ctx.body = { signed_in: false, address: null, chain_id: web.config.chainId, expires_at: null, csrf_token: null };
      return;
    }
    // The page's token, if it is still this session's (it is what state-changing calls must echo).
    const csrfToken = readCookie(ctx, web.cookies.csrf, TOKEN_PATTERN);
    const current = csrfToken !== undefined && sha256Hex(csrfToken) === session.csrfSha256;
    ctx.body = sessionView(session, current ? csrfToken : null);
  };
}

function sessionView(session: Session, csrfToken: string | null) {
  return {
    signed_in: true,
    address: session.account,
    chain_id: session.chainId,
    expires_at: session.expiresAt.toISOString(),
    csrf_token: csrfToken,
  };
}

function setCsrfCookie(ctx: Context, web: WebContext, token: string, maxAgeMs: number): void {
  setCookie(ctx, web.cookies.csrf, token, { httpOnly: false, secure: web.site.secure, maxAgeMs });
}

/** An EIP-4361 nonce: alphanumeric, at least 8 characters; 128 random bits as 32 hex digits. */
function siweNonce(): string {
  return randomBytes(16).toString("hex");
}
