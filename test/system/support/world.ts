import { randomBytes } from "node:crypto";
import { expect } from "chai";
import OpenAI, { APIError } from "openai";
import { ChatCompletionRequestSchema } from "../../../server/domain/chat/chatCompletionRequest";
import { holdAmountMicros, tokenBudget } from "../../../server/domain/chat/tokenBudget";
import { countPromptTokens } from "../../../server/domain/tokens/countPromptTokens";
import type { Model } from "../../../server/domain/types";
import type { Database } from "../../../server/persistence";
import type { ApiKeyDetails, NewApiKey } from "../../../server/persistence/apiKeys/apiKeyRepository";
import type { ModelDetails } from "../../../server/persistence/models/modelRepository";
import type { Provider, UpstreamDetails } from "../../../server/persistence/providers/providerRepository";

/**
 * What the system tests put in the database (through the admin repositories,
 * as the CLI will) and read back from it (plain SQL on the tables the ledger
 * writes), plus the official SDK pointed at a gateway.
 */

export const MICROS_PER_BASE = 1_000_000n;
/** The upstream model name every mock upstream answers to. */
export const MOCK_MODEL = "mock-model";

export function randomAddress(): string {
  return `0x${randomBytes(20).toString("hex")}`;
}

export async function addModel(db: Database, overrides: Partial<Model> & { enabled?: boolean } = {}): Promise<ModelDetails> {
  return db.models.upsert({
    id: `system/echo-${randomBytes(4).toString("hex")}`,
    ownedBy: "shareai-test",
    created: 1_700_000_000,
    contextLength: 8192,
    maxOutputTokens: 256,
    // $0.25 and $1 per 1M tokens: every cost is an exact, unrounded integer of micros.
    promptRatePerMTok: 250_000n,
    completionRatePerMTok: 1_000_000n,
    ...overrides,
  });
}

export interface ProviderWithUpstream {
  provider: Provider;
  upstream: UpstreamDetails;
}

/** A provider with one upstream at `baseUrl` serving `modelIds` (as `mock-model` upstream). */
export async function addProvider(
  db: Database,
  baseUrl: string,
  modelIds: string[],
  options: { enabled?: boolean; name?: string } = {},
): Promise<ProviderWithUpstream> {
  const provider = await db.providers.create({ payoutAddress: randomAddress(), name: options.name ?? "test provider" });
  const upstream = await addUpstream(db, provider, baseUrl, modelIds, options.enabled);
  return { provider, upstream };
}

export function addUpstream(
  db: Database,
  provider: Provider,
  baseUrl: string,
  modelIds: string[],
  enabled = true,
): Promise<UpstreamDetails> {
  return db.providers.addUpstream({
    providerId: provider.id,
    baseUrl,
    models: Object.fromEntries(modelIds.map((id) => [id, MOCK_MODEL])),
    enabled,
  });
}

export interface FundedKey {
  account: string;
  key: ApiKeyDetails;
  secret: string;
}

/** A new account with `availableBase` USDC base units on the escrow, and one key. */
export async function fundedKey(
  db: Database,
  availableBase: bigint,
  keyOptions: Partial<NewApiKey> = {},
): Promise<FundedKey> {
  const account = randomAddress();
  await db.accounts.setOnChainBalance(account, availableBase, 0n);
  const { apiKey, secret } = await db.apiKeys.create({ account, name: "system test key", ...keyOptions });
  return { account, key: apiKey, secret };
}

export function sdk(baseURL: string, apiKey: string, options: { maxRetries?: number; timeoutMs?: number } = {}): OpenAI {
  return new OpenAI({ baseURL, apiKey, maxRetries: options.maxRetries ?? 0, timeout: options.timeoutMs ?? 30_000 });
}

/** The SDK with its `Authorization` header removed: a request without any key. */
export function sdkWithoutKey(baseURL: string): OpenAI {
  return new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0, defaultHeaders: { Authorization: null } });
}

/** The worst-case hold the gateway reserves for `body` on `model` (the same functions the gateway uses). */
export function holdFor(body: Record<string, unknown>, model: Model): bigint {
  const request = ChatCompletionRequestSchema.parse(body);
  return holdAmountMicros(tokenBudget(request, model, countPromptTokens(request)), model);
}

export function costOf(model: Model, promptTokens: number, completionTokens: number): bigint {
  return BigInt(promptTokens) * model.promptRatePerMTok + BigInt(completionTokens) * model.completionRatePerMTok;
}

export interface UsageRow {
  requestId: string;
  account: string;
  keyId: string;
  modelId: string;
  providerAddress: string;
  upstreamId: string;
  promptTokens: number;
  completionTokens: number;
  costMicros: bigint;
  estimated: boolean;
  outcome: string;
  stream: boolean;
}

export async function usageRecords(db: Database, where: { account?: string; requestId?: string } = {}): Promise<UsageRow[]> {
  const rows: any[] = await db.dataSource.query(
    `SELECT request_id, account, key_id, model_id, provider_address, upstream_id, prompt_tokens, completion_tokens,
            cost_micros::text AS cost_micros, estimated, outcome, stream
     FROM usage_records
     WHERE ($1::text IS NULL OR account = $1) AND ($2::text IS NULL OR request_id = $2)
     ORDER BY created_at, request_id`,
    [where.account ?? null, where.requestId ?? null],
  );
  return rows.map((r) => ({
    requestId: r.request_id,
    account: r.account,
    keyId: r.key_id,
    modelId: r.model_id,
    providerAddress: r.provider_address,
    upstreamId: r.upstream_id,
    promptTokens: r.prompt_tokens,
    completionTokens: r.completion_tokens,
    costMicros: BigInt(r.cost_micros),
    estimated: r.estimated,
    outcome: r.outcome,
    stream: r.stream,
  }));
}

/** The one usage record of `requestId` (fails unless there is exactly one). */
export async function theUsageRecord(db: Database, requestId: string): Promise<UsageRow> {
  const rows = await usageRecords(db, { requestId });
  expect(rows, `usage records of request ${requestId}`).to.have.length(1);
  return rows[0];
}

export interface LedgerState {
  onchainAvailableBase: bigint;
  heldMicros: bigint;
  unsettledMicros: bigint;
  /** Σ amount of the account's live holds. */
  holdsSum: bigint;
  holdCount: number;
  /** Σ cost of the account's usage records. */
  usageSum: bigint;
  usageCount: number;
  /** Σ held_micros of the account's keys' spend rows. */
  keysHeld: bigint;
  /** Σ total_spent_micros of the account's keys. */
  keysSpent: bigint;
}

/** An account's balance row next to what it summarises (its holds, its usage, its keys' counters). */
export async function ledgerState(db: Database, account: string): Promise<LedgerState> {
  const [row] = await db.dataSource.query(
    `SELECT b.onchain_available_base::text AS available,
            b.held_micros::text AS held,
            b.unsettled_micros::text AS unsettled,
            (SELECT COALESCE(sum(amount_micros), 0)::text FROM holds WHERE account = $1) AS holds_sum,
            (SELECT count(*)::int FROM holds WHERE account = $1) AS hold_count,
            (SELECT COALESCE(sum(cost_micros), 0)::text FROM usage_records WHERE account = $1) AS usage_sum,
            (SELECT count(*)::int FROM usage_records WHERE account = $1) AS usage_count,
            (SELECT COALESCE(sum(s.held_micros), 0)::text FROM api_key_spend s JOIN api_keys k ON k.id = s.key_id
              WHERE k.account = $1) AS keys_held,
            (SELECT COALESCE(sum(s.total_spent_micros), 0)::text FROM api_key_spend s JOIN api_keys k ON k.id = s.key_id
              WHERE k.account = $1) AS keys_spent
     FROM account_balances b WHERE b.account = $1`,
    [account],
  );
  expect(row, `balance row of ${account}`).to.not.equal(undefined);
  return {
    onchainAvailableBase: BigInt(row.available),
    heldMicros: BigInt(row.held),
    unsettledMicros: BigInt(row.unsettled),
    holdsSum: BigInt(row.holds_sum),
    holdCount: row.hold_count,
    usageSum: BigInt(row.usage_sum),
    usageCount: row.usage_count,
    keysHeld: BigInt(row.keys_held),
    keysSpent: BigInt(row.keys_spent),
  };
}

/**
 * The ledger's invariants for an account at rest (nothing in flight): no hold
 * left, held = 0 on the balance and on every key, unsettled = Σ usage = Σ key spend.
 */
export async function expectSettledLedger(db: Database, account: string): Promise<LedgerState> {
  const state = await ledgerState(db, account);
  expect(state.holdCount, "holds left").to.equal(0);
  expect(state.heldMicros, "held_micros on the balance").to.equal(0n);
  expect(state.holdsSum).to.equal(0n);
  expect(state.keysHeld, "held_micros on the keys").to.equal(0n);
  expect(state.unsettledMicros, "unsettled = Σ usage").to.equal(state.usageSum);
  expect(state.keysSpent, "key spend = Σ usage").to.equal(state.usageSum);
  return state;
}

/** Awaits a rejected SDK call and checks it is the gateway's OpenAI error with `status` and `code`. */
export async function expectApiError(
  promise: Promise<unknown>,
  status: number,
  code: string,
): Promise<APIError<number, Headers>> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected ${status} ${code}`).to.be.instanceOf(APIError);
  const error = caught as APIError<number, Headers>;
  expect(error.headers, "an HTTP error has the response's headers").to.be.instanceOf(Headers);
  expect({ status: error.status, code: error.code }, error.message).to.deep.equal({ status, code });
  expect((error.error as any)?.message, "an OpenAI error body has a message").to.be.a("string").and.not.equal("");
  return error;
}

export async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
