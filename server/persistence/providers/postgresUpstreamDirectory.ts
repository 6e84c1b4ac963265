import type { Pool } from "pg";
import type { UpstreamDirectory, UpstreamTarget } from "../../domain/ports";
import { runNamed, type NamedStatement } from "../pgPool";
import { decryptSecret } from "../secretBox";

const TARGETS_FOR_MODEL: NamedStatement = {
  name: "upstreams_for_model",
  text: `
SELECT u.id, u.provider_id, p.payout_address, u.base_url, u.api_key_ciphertext, um.upstream_model
FROM upstream_models um
JOIN upstreams u ON u.id = um.upstream_id
JOIN providers p ON p.id = u.provider_id
WHERE um.model_id = $1 AND u.enabled
ORDER BY u.created_at, u.id`,
};

const ANY_UPSTREAM: NamedStatement = {
  name: "upstreams_any",
  text: `SELECT EXISTS (SELECT 1 FROM upstreams WHERE removed_at IS NULL) AS any`,
};

interface TargetSqlRow {
  id: string;
  provider_id: string;
  payout_address: string;
  base_url: string;
  api_key_ciphertext: Buffer | null;
  upstream_model: string;
}

/**
 * The router's view of the providers: enabled upstreams per model, their keys
 * decrypted. Always read fresh; the domain layer caches.
 */
export class PostgresUpstreamDirectory implements UpstreamDirectory {
  constructor(
    private readonly pool: Pool,
    /** The 32-byte key upstream API keys are sealed with; needed once any upstream has a key. */
    private readonly encryptionKey?: Buffer,
  ) {}

  /**
   * Counts disabled upstreams too: "none configured" and "none available" are different 503s.
   * Removed ones are not configured. (They are never routed to either: removal disables them, and
   * a check constraint keeps them disabled.)
   */
  async hasAnyUpstream(): Promise<boolean> {
    const [row] = await runNamed<{ any: boolean }>(this.pool, ANY_UPSTREAM, []);
    return row.any;
  }

  async upstreamsFor(modelId: string): Promise<UpstreamTarget[]> {
    const rows = await runNamed<TargetSqlRow>(this.pool, TARGETS_FOR_MODEL, [modelId]);
    return rows.map((row) => ({
      id: row.id,
      providerId: row.provider_id,
      providerAddress: row.payout_address,
      baseUrl: row.base_url,
      apiKey: row.api_key_ciphertext ? this.openApiKey(row.id, row.api_key_ciphertext) : null,
      upstreamModel: row.upstream_model,
    }));
  }

  private openApiKey(upstreamId: string, sealed: Buffer): string {
    if (!this.encryptionKey) {
      throw new Error(`upstream ${upstreamId} has an encrypted API key but no encryption key is configured`);
    }
    return decryptSecret(sealed, this.encryptionKey, upstreamId);
  }
}
