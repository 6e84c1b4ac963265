import { randomUUID } from "node:crypto";
import { In, IsNull, Not, type DataSource, type EntityManager } from "typeorm";
import type { Address } from "../../domain/types";
import type { UpstreamHealthRecord } from "../../providers/health/upstreamHealthLog";
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
import { decryptSecret, encryptSecret } from "../secretBox";
import { isUuid } from "../uuid";
import { healthFields, healthOfRow } from "./postgresUpstreamHealthLog";

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
  /** The last health check any gateway instance made; null when never checked. */
  health: UpstreamHealthRecord | null;
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
  /** The live check made before adding it. */
  health?: UpstreamHealthRecord;
}

/** What an edit changes; a field left undefined stays as it is. */
export interface UpstreamChanges {
  baseUrl?: string;
  /** A new key (sealed like the first); null deletes the stored one. */
  apiKey?: string | null;
  /** Replaces the whole model list; at least one. */
  models?: Record<string, string>;
  enabled?: boolean;
  /** The live check of the edited upstream. */
  health?: UpstreamHealthRecord;
}

/**
 * Providers and their upstreams, for the CLI, the Provider page and the tests. A removed upstream
 * stays in the table (usage records name it) but is left out of everything here.
 */
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
      this.dataSource
        .getRepository(UpstreamEntity)
        .find({ where: { removedAt: IsNull() }, order: { createdAt: "ASC", id: "ASC" } }),
      this.dataSource.getRepository(UpstreamModelEntity).find({ order: { modelId: "ASC" } }),
    ]);
    return providers.map((provider) => ({
      ...providerFromRow(provider),
      upstreams: upstreams
        .filter((upstream) => upstream.providerId === provider.id)
        .map((upstream) => upstreamFromRows(upstream, models)),
    }));
  }

  /** The provider paid at `address`, with its upstreams; null when there is none. */
  async findByPayoutAddress(address: string): Promise<ProviderDetails | null> {
    const provider = await this.dataSource
      .getRepository(ProviderEntity)
      .findOneBy({ payoutAddress: normalizeAddress(address) });
    if (!provider) return null;
    const upstreams = await this.dataSource
      .getRepository(UpstreamEntity)
      .find({ where: { providerId: provider.id, removedAt: IsNull() }, order: { createdAt: "ASC", id: "ASC" } });
    const models =
      upstreams.length === 0
        ? []
        : await this.dataSource
            .getRepository(UpstreamModelEntity)
            .find({ where: { upstreamId: In(upstreams.map((u) => u.id)) }, order: { modelId: "ASC" } });
    return { ...providerFromRow(provider), upstreams: upstreams.map((upstream) => upstreamFromRows(upstream, models)) };
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
      await assertKnownModels(manager, modelIds);
      await manager.getRepository(UpstreamEntity).insert({
        id,
        providerId: input.providerId,
        baseUrl,
        apiKeyCiphertext,
        enabled: input.enabled ?? true,
        ...(input.health ? healthFields(input.health) : {}),
      });
      await insertModels(manager, id, input.models);
    });
    return (await this.upstreamById(id))!;
  }

  /**
   * Edits an upstream that is not removed; null when there is none. Running gateways pick the
   * change up when their upstream cache expires (CATALOG_CACHE_TTL_MS); requests already sent to
   * the old address finish there.
   */
  async updateUpstream(id: string, changes: UpstreamChanges): Promise<UpstreamDetails | null> {
    if (!isUuid(id)) return null;
    const baseUrl = changes.baseUrl === undefined ? undefined : normalizedBaseUrl(changes.baseUrl);
    if (changes.models && Object.keys(changes.models).length === 0) {
      throw new TypeError("an upstream must serve at least one model");
    }
    // The upstream id is the sealed key's associated data, so a replaced key is sealed to the same row.
    const apiKeyCiphertext =
      changes.apiKey === undefined ? undefined : changes.apiKey === null ? null : this.sealApiKey(changes.apiKey, id);
    const found = await this.dataSource.transaction(async (manager) => {
      // Locked, so a removal at the same moment waits instead of racing this edit.
      const row = await manager
        .getRepository(UpstreamEntity)
        .findOne({ where: { id, removedAt: IsNull() }, lock: { mode: "pessimistic_write" } });
      if (!row) return false;
      const set: Partial<UpstreamRow> = {
        ...(baseUrl === undefined ? {} : { baseUrl }),
        ...(apiKeyCiphertext === undefined ? {} : { apiKeyCiphertext }),
        ...(changes.enabled === undefined ? {} : { enabled: changes.enabled }),
        ...(changes.health ? healthFields(changes.health) : {}),
      };
      if (Object.keys(set).length > 0) await manager.getRepository(UpstreamEntity).update({ id }, set);
      if (changes.models) {
        await assertKnownModels(manager, Object.keys(changes.models));
        await manager.getRepository(UpstreamModelEntity).delete({ upstreamId: id });
        await insertModels(manager, id, changes.models);
      }
      return true;
    });
    return found ? this.upstreamById(id) : null;
  }

  async setUpstreamEnabled(id: string, enabled: boolean): Promise<boolean> {
    if (!isUuid(id)) return false;
    const result = await this.dataSource.getRepository(UpstreamEntity).update({ id, removedAt: IsNull() }, { enabled });
    return result.affected === 1;
  }

  /**
   * Removes an upstream: it is disabled, its key wiped and it is marked removed, but the row stays
   * for the usage records that name it. Requests already sent to it finish normally; running
   * gateways stop routing to it within CATALOG_CACHE_TTL_MS. False when there is no such upstream
   * (of `providerId`, when given) or it was removed already.
   */
  async removeUpstream(id: string, providerId?: string): Promise<boolean> {
    if (!isUuid(id) || (providerId !== undefined && !isUuid(providerId))) return false;
    const result = await this.dataSource
      .getRepository(UpstreamEntity)
      .update(
        { id, removedAt: IsNull(), ...(providerId === undefined ? {} : { providerId }) },
        { removedAt: () => "now()", enabled: false, apiKeyCiphertext: null },
      );
    return result.affected === 1;
  }

  /** Whether `id` is an upstream of `providerId` that has been removed. */
  async wasRemoved(id: string, providerId: string): Promise<boolean> {
    if (!isUuid(id) || !isUuid(providerId)) return false;
    return this.dataSource.getRepository(UpstreamEntity).existsBy({ id, providerId, removedAt: Not(IsNull()) });
  }

  /** The stored API key of an upstream that is not removed, opened; null when it has none. */
  async apiKeyOf(id: string): Promise<string | null> {
    if (!isUuid(id)) return null;
    const row = await this.dataSource.getRepository(UpstreamEntity).findOneBy({ id, removedAt: IsNull() });
    if (!row?.apiKeyCiphertext) return null;
    if (!this.options.encryptionKey) {
      throw new Error(`upstream ${id} has an encrypted API key but no encryption key is configured`);
    }
    return decryptSecret(row.apiKeyCiphertext, this.options.encryptionKey, id);
  }

  private async upstreamById(id: string): Promise<UpstreamDetails | null> {
    const [upstream, models] = await Promise.all([
      this.dataSource.getRepository(UpstreamEntity).findOneBy({ id, removedAt: IsNull() }),
      this.dataSource.getRepository(UpstreamModelEntity).find({ where: { upstreamId: id }, order: { modelId: "ASC" } }),
    ]);
    return upstream ? upstreamFromRows(upstream, models) : null;
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

async function assertKnownModels(manager: EntityManager, modelIds: string[]): Promise<void> {
  const known = await manager.getRepository(ModelEntity).findBy({ id: In(modelIds) });
  const unknown = modelIds.filter((modelId) => !known.some((model) => model.id === modelId));
  if (unknown.length > 0) throw new Error(`unknown models: ${unknown.join(", ")}`);
}

async function insertModels(manager: EntityManager, upstreamId: string, models: Record<string, string>): Promise<void> {
  await manager
    .getRepository(UpstreamModelEntity)
    .insert(Object.entries(models).map(([modelId, upstreamModel]) => ({ upstreamId, modelId, upstreamModel })));
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
    health: healthOfRow(row),
  };
}
