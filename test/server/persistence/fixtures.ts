import { randomBytes, randomUUID } from "node:crypto";
import { expect } from "chai";
import type { Hold, HoldRequest, UsageRecordInput } from "../../../server/domain/ports";
import { openDatabase, type Database, type OpenDatabaseOptions } from "../../../server/persistence";
import type { ApiKeyDetails, NewApiKey } from "../../../server/persistence/apiKeys/apiKeyRepository";
import { createTestDatabase, type TestDatabase } from "../../support/database";

/** Shared set-up of the persistence tests: a fresh database, funded accounts, holds and usage. */

export const ENCRYPTION_KEY = Buffer.alloc(32, 7);
export const PROVIDER_ADDRESS = "0x00000000000000000000000000000000000000aa";
export const UPSTREAM_ID = "00000000-0000-4000-8000-000000000001";
export const MODEL_ID = "test-model";

export interface OpenedTestDatabase {
  db: Database;
  testDatabase: TestDatabase;
  /** Another gateway instance on the same database. */
  openInstance(options?: Partial<OpenDatabaseOptions>): Promise<Database>;
  closeAll(): Promise<void>;
}

export async function openTestDatabase(options: Partial<OpenDatabaseOptions> = {}): Promise<OpenedTestDatabase> {
  const testDatabase = await createTestDatabase();
  const instances: Database[] = [];
  const openInstance = async (more: Partial<OpenDatabaseOptions> = {}) => {
    const instance = await openDatabase({
      databaseUrl: testDatabase.url,
      upstreamKeyEncryptionKey: ENCRYPTION_KEY,
      ...options,
      ...more,
    });
    instances.push(instance);
    return instance;
  };
  const db = await openInstance();
  return {
    db,
    testDatabase,
    openInstance,
    async closeAll() {
      await Promise.all(instances.map((instance) => instance.close()));
      await testDatabase.drop();
    },
  };
}

export function randomAddress(): string {
  return `0x${randomBytes(20).toString("hex")}`;
}

export interface FundedKey {
  account: string;
  key: ApiKeyDetails;
  secret: string;
}

/** A new account with `availableBase` on the escrow and one key (with the given limits). */
export async function fundedKey(
  db: Database,
  availableBase: bigint,
  keyOptions: Partial<NewApiKey> = {},
  thawingBase = 0n,
): Promise<FundedKey> {
  const account = randomAddress();
  await db.accounts.setOnChainBalance(account, availableBase, thawingBase);
  const { apiKey, secret } = await db.apiKeys.create({ account, name: "test key", ...keyOptions });
  return { account, key: apiKey, secret };
}

export function holdRequest(
  funded: FundedKey,
  amountMicros: bigint,
  overrides: Partial<HoldRequest> = {},
): HoldRequest {
  return {
    requestId: `req-${randomUUID()}`,
    account: funded.account,
    keyId: funded.key.id,
    modelId: MODEL_ID,
    amountMicros,
    ttlMs: 60_000,
    ...overrides,
  };
}

export function usageFor(
  request: HoldRequest,
  hold: Hold,
  costMicros: bigint,
  overrides: Partial<UsageRecordInput> = {},
): UsageRecordInput {
  return {
    requestId: request.requestId,
    holdId: hold.id,
    account: request.account,
    keyId: request.keyId,
    modelId: request.modelId,
    providerAddress: PROVIDER_ADDRESS,
    upstreamId: UPSTREAM_ID,
    usage: { promptTokens: 10, completionTokens: 20 },
    cachedPromptTokens: 0,
    reasoningTokens: 0,
    costMicros,
    estimated: false,
    outcome: "completed",
    stream: false,
    latencyMs: 12,
    ...overrides,
  };
}

/** Reserves and expects a hold. */
export async function reserveOrFail(db: Database, request: HoldRequest): Promise<Hold> {
  const result = await db.ledger.reserve(request);
  if (!result.ok) throw new Error(`expected a hold, got ${JSON.stringify(result.refusal, bigintReplacer)}`);
  return result.hold;
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/**
 * The ledger's counters next to what they summarise. Every test that moves money
 * checks that they agree: held = Σ live holds, unsettled = Σ usage costs, per
 * account and per key.
 */
export async function ledgerCounters(db: Database, account: string, keyId: string) {
  const [row] = await db.dataSource.query(
    `SELECT b.held_micros AS account_held,
            (SELECT COALESCE(sum(amount_micros), 0) FROM holds WHERE account = $1) AS holds_sum,
            b.unsettled_micros AS unsettled,
            (SELECT COALESCE(sum(cost_micros), 0) FROM usage_records WHERE account = $1) AS usage_sum,
            s.held_micros AS key_held,
            (SELECT COALESCE(sum(amount_micros), 0) FROM holds WHERE key_id = $2) AS key_holds_sum,
            s.total_spent_micros AS key_spent,
            (SELECT COALESCE(sum(cost_micros), 0) FROM usage_records WHERE key_id = $2) AS key_usage_sum,
            (SELECT count(*) FROM holds WHERE account = $1)::int AS hold_count,
            (SELECT count(*) FROM usage_records WHERE account = $1)::int AS usage_count
     FROM account_balances b JOIN api_key_spend s ON s.key_id = $2
     WHERE b.account = $1`,
    [account, keyId],
  );
  return {
    accountHeld: BigInt(row.account_held),
    holdsSum: BigInt(row.holds_sum),
    unsettled: BigInt(row.unsettled),
    usageSum: BigInt(row.usage_sum),
    keyHeld: BigInt(row.key_held),
    keyHoldsSum: BigInt(row.key_holds_sum),
    keySpent: BigInt(row.key_spent),
    keyUsageSum: BigInt(row.key_usage_sum),
    holdCount: row.hold_count as number,
    usageCount: row.usage_count as number,
  };
}

export async function expectRejection(promise: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect((error as Error).message).to.match(message);
    return;
  }
  expect.fail(`expected a rejection matching ${message}`);
}
