import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Upstreams a provider edits and removes from the Provider page, and the last health check of each.
 *
 * - `removed_at`: a removed upstream is kept, not deleted: every usage record names its
 *   `upstream_id` (requests still in flight on it commit theirs after the removal), so history
 *   must still find the row, its provider and base URL. Removal also disables it and wipes its
 *   sealed API key (nothing calls it any more), which the check makes a rule: nothing can route
 *   to, or read the key of, a removed upstream.
 * - `health_*`: the last check, written by every gateway instance's periodic health checker and by
 *   the Provider page's live check (one UPDATE of this row per check), read by the Provider page,
 *   so it survives restarts. No index covers these columns, so the updates are HOT and leave
 *   the indexes alone.
 */
export class UpstreamHealthAndRemoval1767571200000 implements MigrationInterface {
  name = "UpstreamHealthAndRemoval1767571200000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE upstreams
        ADD COLUMN removed_at timestamptz,
        ADD COLUMN health_status text,
        ADD COLUMN health_checked_at timestamptz,
        ADD COLUMN health_latency_ms integer,
        ADD COLUMN health_http_status integer,
        ADD COLUMN health_error text,
        ADD CONSTRAINT upstreams_removed_is_disabled CHECK (
          removed_at IS NULL OR (NOT enabled AND api_key_ciphertext IS NULL)),
        ADD CONSTRAINT upstreams_health_valid CHECK (
          (health_checked_at IS NULL) = (health_status IS NULL)
          AND health_status IN ('up', 'down')
          AND health_latency_ms >= 0
          AND char_length(health_error) <= 300)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // Without the column, removed upstreams would reappear (disabled, keyless) on the Provider page.
    await queryRunner.query(`DELETE FROM upstreams WHERE removed_at IS NOT NULL`);
    await queryRunner.query(`
      ALTER TABLE upstreams
        DROP CONSTRAINT upstreams_health_valid,
        DROP CONSTRAINT upstreams_removed_is_disabled,
        DROP COLUMN health_error,
        DROP COLUMN health_http_status,
        DROP COLUMN health_latency_ms,
        DROP COLUMN health_checked_at,
        DROP COLUMN health_status,
        DROP COLUMN removed_at`);
  }
}
