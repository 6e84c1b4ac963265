import { EntitySchema } from "typeorm";
import { createdAtColumn } from "./columns";

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
