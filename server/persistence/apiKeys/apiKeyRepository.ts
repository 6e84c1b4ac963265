import { randomUUID } from "node:crypto";
import { IsNull, type DataSource } from "typeorm";
import type { ApiKey, Address } from "../../domain/types";
import { utcDay } from "../ledger/utcDay";
import { ensureAccount } from "../accounts/ensureAccount";
import { normalizeAddress } from "../address";
import { isUuid } from "../uuid";
import { ApiKeyEntity, ApiKeySpendEntity, type ApiKeyRow } from "../entities/apiKey";
import { generateApiKey } from "./apiKeySecret";

/** What a key may do; every limit is optional (null: unlimited, or every model). */
export interface ApiKeySettings {
  name: string;
  allowedModels: string[] | null;
  dailySpendCapBase: bigint | null;
  totalSpendCapBase: bigint | null;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
}

export type NewApiKey = { account: string; name: string } & Partial<Omit<ApiKeySettings, "name">>;

export interface ApiKeyDetails extends ApiKey {
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface CreatedApiKey {
  apiKey: ApiKeyDetails;
  /** The key itself. It is not stored anywhere: show it once. */
  secret: string;
}

/** What a key has spent, for its caps; micro base units. */
export interface ApiKeySpend {
  keyId: string;
  /** Worst case of the key's requests in flight. */
  heldMicros: bigint;
  totalSpentMicros: bigint;
  /** Spent on the current UTC day. */
  todaySpentMicros: bigint;
}

/** Key management for the CLI and the tests. */
export class ApiKeyRepository {
  constructor(private readonly dataSource: DataSource, private readonly clock: () => Date = () => new Date()) {}

  async create(input: NewApiKey): Promise<CreatedApiKey> {
    const account = normalizeAddress(input.account);
    const settings = validSettings({
      name: input.name,
      allowedModels: input.allowedModels ?? null,
      dailySpendCapBase: input.dailySpendCapBase ?? null,
      totalSpendCapBase: input.totalSpendCapBase ?? null,
      requestsPerMinute: input.requestsPerMinute ?? null,
      tokensPerMinute: input.tokensPerMinute ?? null,
    });
    const generated = generateApiKey();
    const id = randomUUID();
    await this.dataSource.transaction(async (manager) => {
      await ensureAccount(manager, account);
      await manager.getRepository(ApiKeyEntity).insert({
        id,
        account,
        secretSha256: generated.secretSha256,
        prefix: generated.displayPrefix,
        ...settings,
      });
      await manager.getRepository(ApiKeySpendEntity).insert({ keyId: id });
    });
    return { apiKey: (await this.get(id))!, secret: generated.secret };
  }

  async get(id: string): Promise<ApiKeyDetails | null> {
    if (!isUuid(id)) return null;
    const row = await this.dataSource.getRepository(ApiKeyEntity).findOneBy({ id });
    return row ? detailsFromRow(row) : null;
  }

  /** Keys, oldest first; of one account when given. */
  async list(account?: Address): Promise<ApiKeyDetails[]> {
    const rows = await this.dataSource.getRepository(ApiKeyEntity).find({
      where: account === undefined ? {} : { account: normalizeAddress(account) },
      order: { createdAt: "ASC", id: "ASC" },
    });
    return rows.map(detailsFromRow);
  }

  /** Changes a key's name or limits; null when there is no such key. */
  async update(id: string, changes: Partial<ApiKeySettings>): Promise<ApiKeyDetails | null> {
    const current = await this.get(id);
    if (!current) return null;
    const settings = validSettings({ ...current, ...changes });
    await this.dataSource.getRepository(ApiKeyEntity).update({ id }, settings);
    return this.get(id);
  }

  /** Disables the key for good; false when it was unknown or already revoked. */
  async revoke(id: string): Promise<boolean> {
    if (!isUuid(id)) return false;
    const result = await this.dataSource
      .getRepository(ApiKeyEntity)
      .update({ id, revokedAt: IsNull() }, { revokedAt: this.clock() });
    return result.affected === 1;
  }

  async getSpend(id: string): Promise<ApiKeySpend | null> {
    if (!isUuid(id)) return null;
    const row = await this.dataSource.getRepository(ApiKeySpendEntity).findOneBy({ keyId: id });
    if (!row) return null;
    const today = utcDay(this.clock());
    return {
      keyId: row.keyId,
      heldMicros: row.heldMicros,
      totalSpentMicros: row.totalSpentMicros,
      todaySpentMicros: row.spendDay !== null && row.spendDay >= today ? row.daySpentMicros : 0n,
    };
  }
}

function validSettings(settings: ApiKeySettings): ApiKeySettings {
  if (settings.name.trim() === "") throw new TypeError("a key needs a name");
  for (const [label, cap] of [
    ["daily spend cap", settings.dailySpendCapBase],
    ["total spend cap", settings.totalSpendCapBase],
  ] as const) {
    if (cap !== null && cap < 0n) throw new RangeError(`the ${label} cannot be negative: ${cap}`);
  }
  for (const [label, limit] of [
    ["requests per minute", settings.requestsPerMinute],
    ["tokens per minute", settings.tokensPerMinute],
  ] as const) {
    if (limit !== null && !(Number.isInteger(limit) && limit > 0)) {
      throw new RangeError(`${label} must be a positive integer: ${limit}`);
    }
  }
  return {
    name: settings.name,
    allowedModels: settings.allowedModels,
    dailySpendCapBase: settings.dailySpendCapBase,
    totalSpendCapBase: settings.totalSpendCapBase,
    requestsPerMinute: settings.requestsPerMinute,
    tokensPerMinute: settings.tokensPerMinute,
  };
}

function detailsFromRow(row: ApiKeyRow): ApiKeyDetails {
  return {
    id: row.id,
    account: row.account,
    name: row.name,
    prefix: row.prefix,
    allowedModels: row.allowedModels,
    dailySpendCapBase: row.dailySpendCapBase,
    totalSpendCapBase: row.totalSpendCapBase,
    requestsPerMinute: row.requestsPerMinute,
    tokensPerMinute: row.tokensPerMinute,
    revokedAt: row.revokedAt,
    createdAt: row.createdAt,
    lastUsedAt: row.lastUsedAt,
  };
}
