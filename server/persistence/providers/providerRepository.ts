import { randomUUID } from "node:crypto";
import { In, type DataSource } from "typeorm";
import type { Address } from "../../domain/types";
import { normalizeAddress } from "../address";
import { ModelEntity } from "../entities/model";
import {
  ProviderEntity,
  UpstreamEntity,
  UpstreamModelEntity,
  type ProviderRow,
  type UpstreamModelRow,
  type UpstreamRow,
} from "../entities/provider";
import { isUniqueViolation } from "../pgErrors";
import { encryptSecret } from "../secretBox";
import { isUuid } from "../uuid";

export interface Provider {
  id: string;
  /** Where the provider's 90% of each settlement is paid. */
  payoutAddress: Address;
  name: string;
  createdAt: Date;
}

export interface UpstreamDetails {
  id: string;
  providerId: string;
  baseUrl: string;
  /** Whether an API key is stored (it is never read back here). */
  hasApiKey: boolean;
  enabled: boolean;
  /** Network model id → the name the upstream knows it by. */
  models: Record<string, string>;
  createdAt: Date;
}

export interface ProviderDetails extends Provider {
  upstreams: UpstreamDetails[];
}

export interface NewUpstream {
  providerId: string;
  /** OpenAI-compatible base URL ending in `/v1`. */
  baseUrl: string;
  apiKey?: string | null;
  /** Network model id → upstream model name; at least one. */
  models: Record<string, string>;
  enabled?: boolean;
}

/** Providers and their upstreams, for the CLI and the tests. */
export class ProviderRepository {
  constructor(private readonly dataSource: DataSource, private readonly options: { encryptionKey?: Buffer } = {}) {}

  async create(input: { payoutAddress: string; name: string }): Promise<Provider> {
    const row = { id: randomUUID(), payoutAddress: normalizeAddress(input.payoutAddress), name: input.name };
    try {
      await this.dataSource.getRepository(ProviderEntity).insert(row);
    } catch (error) {
      if (isUniqueViolation(error, "providers_payout_address_unique")) {
        throw new Error(`a provider is already paid at ${row.payoutAddress}`, { cause: error });
      }
      throw error;
    }
    return providerFromRow(await this.dataSource.getRepository(ProviderEntity).findOneByOrFail({ id: row.id }));
  }

  async list(): Promise<ProviderDetails[]> {
    const [providers, upstreams, models] = await Promise.all([
      this.dataSource.getRepository(ProviderEntity).find({ order: { createdAt: "ASC", id: "ASC" } }),
      this.dataSource.getRepository(UpstreamEntity).find({ order: { createdAt: "ASC", id: "ASC" } }),
      this.dataSource.getRepository(UpstreamModelEntity).find({ order: { modelId: "ASC" } }),
    ]);
    return providers.map((provider) => ({
      ...providerFromRow(provider),
      upstreams: upstreams
        .filter((upstream) => upstream.providerId === provider.id)
        .map((upstream) => upstreamFromRows(upstream, models)),
    }));
  }

  /** Adds an upstream to a provider; its API key is stored sealed with AES-256-GCM. */
  async addUpstream(input: NewUpstream): Promise<UpstreamDetails> {
    const id = randomUUID();
    const baseUrl = normalizedBaseUrl(input.baseUrl);
    const modelIds = Object.keys(input.models);
    if (modelIds.length === 0) throw new TypeError("an upstream must serve at least one model");
    const apiKeyCiphertext = input.apiKey ? this.sealApiKey(input.apiKey, id) : null;
    await this.dataSource.transaction(async (manager) => {
      if (
        !isUuid(input.providerId) ||
        !(await manager.getRepository(ProviderEntity).existsBy({ id: input.providerId }))
      ) {
        throw new Error(`no provider ${input.providerId}`);
      }
      const known = await manager.getRepository(ModelEntity).findBy({ id: In(modelIds) });
      const unknown = modelIds.filter((modelId) => !known.some((model) => model.id === modelId));
      if (unknown.length > 0) throw new Error(`unknown models: ${unknown.join(", ")}`);
      await manager.getRepository(UpstreamEntity).insert({
        id,
        providerId: input.providerId,
        baseUrl,
        apiKeyCiphertext,
        enabled: input.enabled ?? true,
      });
      await manager
        .getRepository(UpstreamModelEntity)
        .insert(
          Object.entries(input.models).map(([modelId, upstreamModel]) => ({ upstreamId: id, modelId, upstreamModel })),
        );
    });
    const [upstream, models] = await Promise.all([
      this.dataSource.getRepository(UpstreamEntity).findOneByOrFail({ id }),
      this.dataSource.getRepository(UpstreamModelEntity).findBy({ upstreamId: id }),
    ]);
    return upstreamFromRows(upstream, models);
  }

  async setUpstreamEnabled(id: string, enabled: boolean): Promise<boolean> {
    if (!isUuid(id)) return false;
    const result = await this.dataSource.getRepository(UpstreamEntity).update({ id }, { enabled });
    return result.affected === 1;
  }

  /** Deletes an upstream and its model list; usage already recorded keeps its upstream id. */
  async removeUpstream(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const result = await this.dataSource.getRepository(UpstreamEntity).delete({ id });
    return result.affected === 1;
  }

  private sealApiKey(apiKey: string, upstreamId: string): Buffer {
    if (!this.options.encryptionKey) {
      throw new Error("an upstream API key can only be stored when an encryption key is configured");
    }
    return encryptSecret(apiKey, this.options.encryptionKey, upstreamId);
  }
}

/** `http(s)://host/…/v1` without a trailing slash, so paths can be appended as `${baseUrl}/chat/completions`. */
function normalizedBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(`not a URL: ${baseUrl}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`not an http(s) URL: ${baseUrl}`);
  return url.toString().replace(/\/+$/, "");
}

function providerFromRow(row: ProviderRow): Provider {
  return { id: row.id, payoutAddress: row.payoutAddress, name: row.name, createdAt: row.createdAt };
}

function upstreamFromRows(row: UpstreamRow, models: UpstreamModelRow[]): UpstreamDetails {
  return {
    id: row.id,
    providerId: row.providerId,
    baseUrl: row.baseUrl,
    hasApiKey: row.apiKeyCiphertext !== null,
    enabled: row.enabled,
    models: Object.fromEntries(
      models.filter((model) => model.upstreamId === row.id).map((model) => [model.modelId, model.upstreamModel]),
    ),
    createdAt: row.createdAt,
  };
}
