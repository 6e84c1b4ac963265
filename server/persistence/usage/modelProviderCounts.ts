import type { Pool } from "pg";
import { runNamed, type NamedStatement } from "../pgPool";

export interface ModelProviderCount {
  /** Distinct providers with at least one online upstream serving the model. */
  providers: number;
  /** Online upstreams serving the model. */
  upstreams: number;
}

/**
 * $1: the oldest health check that still counts, epoch milliseconds.
 * A removed upstream is disabled (a table constraint), so `enabled` leaves it out.
 */
const COUNT_BY_MODEL: NamedStatement = {
  name: "web_model_provider_counts_online",
  text: `
SELECT um.model_id, count(DISTINCT u.provider_id)::int AS providers, count(*)::int AS upstreams
FROM upstream_models um
JOIN upstreams u ON u.id = um.upstream_id
WHERE u.enabled
  AND u.health_status = 'up'
  AND u.health_checked_at >= timestamptz 'epoch' + $1::int8 * interval '1 millisecond'
GROUP BY um.model_id`,
};

/**
 * How many providers are online for each model: with an enabled upstream
 * serving it whose last health check, by any gateway instance (stored on the
 * upstream's row), said it was up, recently enough. An upstream nobody has
 * checked lately (no gateway running, or one just added) does not count.
 */
export class ModelProviderCounts {
  constructor(private readonly pool: Pool) {}

  /** `checkedSince`: checks older than this are stale (a few health-check intervals ago). */
  async byModel(checkedSince: Date): Promise<Map<string, ModelProviderCount>> {
    const rows = await runNamed<{ model_id: string; providers: number; upstreams: number }>(
      this.pool,
      COUNT_BY_MODEL,
      [checkedSince.getTime()]
    );
    return new Map(rows.map((row) => [row.model_id, { providers: row.providers, upstreams: row.upstreams }]));
  }
}
