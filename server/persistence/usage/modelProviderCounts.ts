import type { Pool } from "pg";
import { runNamed, type NamedStatement } from "../pgPool";

export interface ModelProviderCount {
  /** Distinct providers with at least one enabled upstream serving the model. */
  providers: number;
  /** Enabled upstreams serving the model. */
  upstreams: number;
}

const COUNT_BY_MODEL: NamedStatement = {
  name: "web_model_provider_counts",
  text: `
SELECT um.model_id, count(DISTINCT u.provider_id)::int AS providers, count(*)::int AS upstreams
FROM upstream_models um
JOIN upstreams u ON u.id = um.upstream_id
WHERE u.enabled
GROUP BY um.model_id`,
};

/**
 * How many providers serve each model, from what is registered and enabled.
 * Health is not in the database: each gateway instance probes upstreams on its
 * own, so "online" here means enabled, not "answered this instance's last probe".
 */
export class ModelProviderCounts {
  constructor(private readonly pool: Pool) {}

  async byModel(): Promise<Map<string, ModelProviderCount>> {
    const rows = await runNamed<{ model_id: string; providers: number; upstreams: number }>(
      this.pool,
      COUNT_BY_MODEL,
      []
    );
    return new Map(rows.map((row) => [row.model_id, { providers: row.providers, upstreams: row.upstreams }]));
  }
}
