import { createHash, randomBytes } from "node:crypto";

/**
 * ShareAI API keys: `sk-shareai-` + 32 random bytes in base64url. Only the
 * SHA-256 of the whole key is stored (a fast hash is right here: the secret has
 * 256 bits of entropy, so there is nothing to brute-force, and authentication
 * hashes it on every request), plus a display prefix that reveals 4 characters.
 */

export const API_KEY_PREFIX = "sk-shareai-";
const RANDOM_BYTES = 32;
const DISPLAYED_RANDOM_CHARS = 4;

export interface GeneratedApiKey {
  /** The key itself: shown once, never stored. */
  secret: string;
  secretSha256: string;
  /** Safe to show in listings (`sk-shareai-AbCd`). */
  displayPrefix: string;
}

export function generateApiKey(): GeneratedApiKey {
  const secret = API_KEY_PREFIX + randomBytes(RANDOM_BYTES).toString("base64url");
  return {
    secret,
    secretSha256: hashApiKey(secret),
    displayPrefix: secret.slice(0, API_KEY_PREFIX.length + DISPLAYED_RANDOM_CHARS),
  };
}

/** The lookup key of a presented bearer token: lower-case hex SHA-256 of its UTF-8 bytes. */
export function hashApiKey(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}
