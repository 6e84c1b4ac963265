import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * Seals small secrets (upstream API keys) with AES-256-GCM under a 32-byte key
 * that the caller takes from config, so a database dump alone reveals nothing.
 *
 * Layout: version (1 byte) | IV (12) | auth tag (16) | ciphertext.
 * The version byte leaves room for a future key rotation scheme.
 * `associatedData` binds a sealed value to its row (the upstream's id): a
 * ciphertext copied onto another row fails to open instead of being used there.
 */

const FORMAT_VERSION = 1;
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;

function assertKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) {
    throw new RangeError(`the secret box key must be ${KEY_BYTES} bytes, got ${key.length}`);
  }
}

export function encryptSecret(plaintext: string, key: Buffer, associatedData = ""): Buffer {
  assertKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(associatedData, "utf8"));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return Buffer.concat([Buffer.from([FORMAT_VERSION]), iv, cipher.getAuthTag(), ciphertext]);
}

/** Throws when the key is wrong or the sealed value was altered (GCM authentication). */
export function decryptSecret(sealed: Buffer, key: Buffer, associatedData = ""): string {
  assertKey(key);
  if (sealed.length < HEADER_BYTES || sealed[0] !== FORMAT_VERSION) {
    throw new Error("sealed secret has an unknown format");
  }
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const tag = sealed.subarray(1 + IV_BYTES, HEADER_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key, iv);
  decipher.setAAD(Buffer.from(associatedData, "utf8"));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES)), decipher.final()]).toString("utf8");
}
