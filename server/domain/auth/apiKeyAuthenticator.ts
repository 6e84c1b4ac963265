import { createHash } from "node:crypto";
import { TtlCache } from "../caching/ttlCache";
import type { ApiKeyStore } from "../ports";
import type { ApiKey } from "../types";

export const API_KEY_PREFIX = "sk-shareai-";
/** Generated keys are the prefix and 43 base64url characters; anything far off that is not worth a lookup. */
const PLAUSIBLE_KEY = /^sk-shareai-[A-Za-z0-9_-]{16,200}$/;
/** How often a key's last use is reported to the store: often enough for a dashboard, rarely enough to cost nothing. */
const TOUCH_INTERVAL_MS = 60_000;

export interface ApiKeyAuthenticatorOptions {
  /** How long a lookup, found or not, is trusted. A revoked key keeps working for at most this long. */
  ttlMs: number;
  maxEntries?: number;
  now?: () => number;
}

/**
 * Resolves a presented secret to an active API key. The store is asked by the
 * secret's SHA-256 only, and its answer, positive or negative, is cached for
 * `ttlMs`: a client hammering with a bad key costs one database lookup per
 * TTL, not one per request.
 *
 * The cache is keyed by the secret itself, so a hit costs no hashing; the
 * secret already passes through this process's memory with every request,
 * and it is never written anywhere.
 */
export class ApiKeyAuthenticator {
  private readonly cache: TtlCache<string, ApiKey | null>;
  private readonly lastTouchMs = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly store: ApiKeyStore, options: ApiKeyAuthenticatorOptions) {
    this.now = options.now ?? Date.now;
    this.cache = new TtlCache(options.ttlMs, options.maxEntries ?? 50_000, this.now);
  }

  /** The active key for `secret`, or null if it is unknown, malformed or revoked. */
  async authenticate(secret: string): Promise<ApiKey | null> {
    if (!PLAUSIBLE_KEY.test(secret)) return null;
    const key = await this.cache.get(secret, this.lookUp);
    if (!key || key.revokedAt !== null) return null;
    this.touch(key.id);
    return key;
  }

  private readonly lookUp = (secret: string): Promise<ApiKey | null> =>
    this.store.findByHash(createHash("sha256").update(secret).digest("hex"));

  private touch(keyId: string): void {
    const now = this.now();
    const last = this.lastTouchMs.get(keyId);
    if (last !== undefined && now - last < TOUCH_INTERVAL_MS) return;
    this.lastTouchMs.set(keyId, now);
    this.store.touch(keyId, new Date(now));
  }
}
