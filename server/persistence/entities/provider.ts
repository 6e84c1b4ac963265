import { EntitySchema } from "typeorm";
import { createdAtColumn, timestampColumn } from "./columns";

export interface ProviderRow {
  id: string;
  payoutAddress: string;
  name: string;
  createdAt: Date;
}

export const ProviderEntity = new EntitySchema<ProviderRow>({
  name: "Provider",
  tableName: "providers",
  columns: {
    id: { type: "uuid", primary: true },
    payoutAddress: { type: "text", name: "payout_address" },
    name: { type: "text" },
    createdAt: createdAtColumn,
  },
  uniques: [{ name: "providers_payout_address_unique", columns: ["payoutAddress"] }],
  checks: [{ name: "providers_payout_address_format", expression: `payout_address ~ '^0x[0-9a-f]{40}$'` }],
});

export interface UpstreamRow {
  id: string;
  providerId: string;
  baseUrl: string;
  /** The upstream's API key sealed by `secretBox`, with the upstream id as associated data. */
  apiKeyCiphertext: Buffer | null;
  enabled: boolean;
  createdAt: Date;
  /** Set when its provider removed it: kept for the usage records that name it, never routed to again. */
  removedAt: Date | null;
  /** The last health check, by a gateway's periodic checker or the Provider page's live check. */
  healthStatus: "up" | "down" | null;
  healthCheckedAt: Date | null;
  healthLatencyMs: number | null;
  /** The HTTP status of the check's answer; null when none came. */
  healthHttpStatus: number | null;
  /** Why it was down, in a few words; null when up. */
  healthError: string | null;
}

export const UpstreamEntity = new EntitySchema<UpstreamRow>({
  name: "Upstream",
  tableName: "upstreams",
  columns: {
    id: { type: "uuid", primary: true },
    providerId: { type: "uuid", name: "provider_id" },
    baseUrl: { type: "text", name: "base_url" },
    apiKeyCiphertext: { type: "bytea", name: "api_key_ciphertext", nullable: true },
    enabled: { type: "boolean", default: true },
    createdAt: createdAtColumn,
    removedAt: timestampColumn("removed_at", { nullable: true }),
    healthStatus: { type: "text", name: "health_status", nullable: true },
    healthCheckedAt: timestampColumn("health_checked_at", { nullable: true }),
    healthLatencyMs: { type: "integer", name: "health_latency_ms", nullable: true },
    healthHttpStatus: { type: "integer", name: "health_http_status", nullable: true },
    healthError: { type: "text", name: "health_error", nullable: true },
  },
  foreignKeys: [
    {
      name: "upstreams_provider_fk",
      target: "Provider",
      columnNames: ["providerId"],
      referencedColumnNames: ["id"],
      onDelete: "CASCADE",
    },
  ],
  indices: [{ name: "upstreams_provider_idx", columns: ["providerId"] }],
  checks: [
    {
      name: "upstreams_removed_is_disabled",
      expression: "removed_at IS NULL OR (NOT enabled AND api_key_ciphertext IS NULL)",
    },
    {
      name: "upstreams_health_valid",
      expression:
        "(health_checked_at IS NULL) = (health_status IS NULL) AND health_status IN ('up', 'down') AND health_latency_ms >= 0 AND char_length(health_error) <= 300",
    },
  ],
});

export interface UpstreamModelRow {
  upstreamId: string;
  modelId: string;
  upstreamModel: string;
}

export const UpstreamModelEntity = new EntitySchema<UpstreamModelRow>({
  name: "UpstreamModel",
  tableName: "upstream_models",
  columns: {
    upstreamId: { type: "uuid", primary: true, name: "upstream_id" },
    modelId: { type: "text", primary: true, name: "model_id" },
    upstreamModel: { type: "text", name: "upstream_model" },
  },
  foreignKeys: [
    {
      name: "upstream_models_upstream_fk",
      target: "Upstream",
      columnNames: ["upstreamId"],
      referencedColumnNames: ["id"],
      onDelete: "CASCADE",
    },
    { name: "upstream_models_model_fk", target: "Model", columnNames: ["modelId"], referencedColumnNames: ["id"] },
  ],
  indices: [{ name: "upstream_models_model_idx", columns: ["modelId"] }],
});
