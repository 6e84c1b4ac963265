import type { Pool } from "pg";
import { runNamed, type NamedStatement } from "../pgPool";

/** A Sign-In with Ethereum nonce, as issued: what the signed message must repeat. */
export interface IssuedNonce {
  nonce: string;
  domain: string;
  chainId: number;
  createdAt: Date;
  expiresAt: Date;
}

export interface NewNonce {
  nonce: string;
  /** The RFC 3986 authority the message must name (`PUBLIC_BASE_URL`'s host). */
  domain: string;
  chainId: number;
  /** SHA-256 (hex) of the browser's CSRF token: only that browser can spend the nonce. */
  bindingSha256: string;
  now: Date;
  ttlMs: number;
}

export type NonceClaim = Omit<NewNonce, "ttlMs">;

/**
 * Issuing also deletes the nonces that expired, so the table holds only live
 * ones without a sweeper (an indexed range delete, cheap).
 */
const ISSUE_NONCE: NamedStatement = {
  name: "siwe_nonce_issue",
  text: `
WITH swept AS (DELETE FROM siwe_nonces WHERE expires_at <= $5::timestamptz)
INSERT INTO siwe_nonces (nonce, domain, chain_id, binding_sha256, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz)`,
};

/**
 * Single use: the DELETE is the check. Of two sign-ins racing with the same
 * nonce, Postgres lets exactly one delete the row; the other finds nothing.
 */
const CONSUME_NONCE: NamedStatement = {
  name: "siwe_nonce_consume",
  text: `
DELETE FROM siwe_nonces
WHERE nonce = $1 AND domain = $2 AND chain_id = $3 AND binding_sha256 = $4 AND expires_at > $5::timestamptz
RETURNING nonce`,
};

/** Single-use sign-in nonces, each bound to a domain, a chain and a browser, with an expiry. */
export class PostgresNonceStore {
  constructor(private readonly pool: Pool) {}

  async issue(input: NewNonce): Promise<IssuedNonce> {
    const expiresAt = new Date(input.now.getTime() + input.ttlMs);
    await runNamed(this.pool, ISSUE_NONCE, [
      input.nonce,
      input.domain,
      input.chainId,
      input.bindingSha256,
      input.now,
      expiresAt,
    ]);
    return { nonce: input.nonce, domain: input.domain, chainId: input.chainId, createdAt: input.now, expiresAt };
  }

  /** Deletes the nonce if it is live and was issued for this domain, chain and browser; whether it did. */
  async consume(claim: NonceClaim): Promise<boolean> {
    const rows = await runNamed(this.pool, CONSUME_NONCE, [
      claim.nonce,
      claim.domain,
      claim.chainId,
      claim.bindingSha256,
      claim.now,
    ]);
    return rows.length === 1;
  }
}
