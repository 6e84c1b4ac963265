import { createHash, randomBytes } from "node:crypto";
import type {
  ApiKeyStore,
  Hold,
  HoldRefusal,
  HoldRequest,
  Ledger,
  ModelCatalog,
  ReadinessCheck,
  UpstreamDirectory,
  UpstreamTarget,
  UsageRecordInput,
} from "../../server/domain/ports";
import { MemoryRateLimiter } from "../../server/domain/rateLimit";
import type { Address, ApiKey, Model } from "../../server/domain/types";

/**
 * In-memory test doubles of the gateway's ports, faithful to their contracts
 * (server/domain/ports.ts) so that tests of the HTTP layer prove what the
 * Postgres implementations must also do: the ledger reserves atomically
 * (check and insert with no await between them), enforces spendable balance
 * and spend caps, expires holds, commits once per request id.
 */

const MICROS_PER_BASE = 1_000_000n;
const DAY_MS = 86_400_000;

export class MemoryApiKeyStore implements ApiKeyStore {
  private readonly byHash = new Map<string, ApiKey>();
  lookups = 0;
  readonly touches: { keyId: string; at: Date }[] = [];

  async findByHash(sha256Hex: string): Promise<ApiKey | null> {
    this.lookups += 1;
    const key = this.byHash.get(sha256Hex);
    return key ? { ...key } : null;
  }

  touch(keyId: string, at: Date): void {
    this.touches.push({ keyId, at });
  }

  /** A new key and its secret (`sk-shareai-` + 32 random bytes), as the real store creates them. */
  create(fields: Partial<ApiKey> & { account: Address }): { secret: string; key: ApiKey } {
    const secret = `sk-shareai-${randomBytes(32).toString("base64url")}`;
    const key: ApiKey = {
      id: `key-${this.byHash.size + 1}`,
      name: "test",
      prefix: secret.slice(0, 15),
      allowedModels: null,
      dailySpendCapBase: null,
      totalSpendCapBase: null,
      requestsPerMinute: null,
      tokensPerMinute: null,
      revokedAt: null,
      ...fields,
    };
    this.byHash.set(createHash("sha256").update(secret).digest("hex"), key);
    return { secret, key };
  }

  byId(keyId: string): ApiKey | undefined {
    return [...this.byHash.values()].find((k) => k.id === keyId);
  }

  update(keyId: string, fields: Partial<ApiKey>): void {
    const key = this.byId(keyId);
    if (!key) throw new Error(`no key ${keyId}`);
    Object.assign(key, fields);
  }

  revoke(keyId: string): void {
    this.update(keyId, { revokedAt: new Date() });
  }
}

export class MemoryModelCatalog implements ModelCatalog {
  private readonly models = new Map<string, Model>();
  lookups = 0;

  add(fields: Partial<Model> & { id: string }): Model {
    const model: Model = {
      ownedBy: "shareai",
      created: 1_700_000_000,
      contextLength: 8192,
      maxOutputTokens: 1024,
      promptRatePerMTok: 250_000n,
      completionRatePerMTok: 1_000_000n,
      ...fields,
    };
    this.models.set(model.id, model);
    return model;
  }

  remove(id: string): void {
    this.models.delete(id);
  }

  async list(): Promise<Model[]> {
    return [...this.models.values()].map((m) => ({ ...m }));
  }

  async get(id: string): Promise<Model | null> {
    this.lookups += 1;
    const model = this.models.get(id);
    return model ? { ...model } : null;
  }
}

export class MemoryUpstreamDirectory implements UpstreamDirectory {
  private readonly entries = new Map<string, { target: UpstreamTarget; modelIds: string[] }>();

  add(target: UpstreamTarget, modelIds: string[]): void {
    this.entries.set(target.id, { target, modelIds });
  }

  remove(upstreamId: string): void {
    this.entries.delete(upstreamId);
  }

  async hasAnyUpstream(): Promise<boolean> {
    return this.entries.size > 0;
  }

  async upstreamsFor(modelId: string): Promise<UpstreamTarget[]> {
    return [...this.entries.values()].filter((e) => e.modelIds.includes(modelId)).map((e) => ({ ...e.target }));
  }
}

interface StoredHold extends Hold {
  requestId: string;
}

export interface MemoryLedgerOptions {
  /** The key's spend caps, as the real ledger reads them from the key's row. */
  capsOf?: (keyId: string) => { dailySpendCapBase: bigint | null; totalSpendCapBase: bigint | null } | undefined;
  now?: () => number;
  /** Simulated database latency before each operation acts (the act itself is atomic). */
  latencyMs?: number;
}

/** Running totals, so that a reserve costs O(1) however many requests were billed (benchmarks use this double too). */
class Totals<K> {
  private readonly values = new Map<K, bigint>();
  get(key: K): bigint {
    return this.values.get(key) ?? 0n;
  }
  add(key: K, amount: bigint): void {
    this.values.set(key, this.get(key) + amount);
  }
}

export class MemoryLedger implements Ledger {
  private readonly availableMicros = new Map<Address, bigint>();
  private readonly holds = new Map<string, StoredHold>();
  readonly records = new Map<string, UsageRecordInput>();
  private readonly unsettledByAccount = new Totals<Address>();
  private readonly heldByAccount = new Totals<Address>();
  private readonly heldByKey = new Totals<string>();
  private readonly spentByKey = new Totals<string>();
  private readonly spentByKeyDay = new Totals<string>();
  private nextHoldId = 1;
  private nextExpiryAtMs = Infinity;
  private readonly now: () => number;
  reserveCalls = 0;
  /** Hold extensions that found their hold. */
  extensions = 0;
  /** Every hold asked for, in order, whether placed or refused. */
  readonly reserveRequests: HoldRequest[] = [];
  releases = 0;

  constructor(private readonly options: MemoryLedgerOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /** What the chain watcher will do: credit on-chain `available` (USDC base units). */
  deposit(account: Address, amountBase: bigint): void {
    this.availableMicros.set(account, (this.availableMicros.get(account) ?? 0n) + amountBase * MICROS_PER_BASE);
  }

  /** Sets on-chain `available` to an exact amount of micro base units (for boundary tests). */
  setAvailableMicros(account: Address, micros: bigint): void {
    this.availableMicros.set(account, micros);
  }

  async reserve(request: HoldRequest): Promise<{ ok: true; hold: Hold } | { ok: false; refusal: HoldRefusal }> {
    await this.latency();
    // From here to the insert there is no await: the check and the hold are one atomic step.
    this.reserveCalls += 1;
    this.reserveRequests.push(request);
    this.expireHolds();
    const needed = request.amountMicros;
    const spendable = this.spendableMicros(request.account);
    if (needed > spendable) {
      return {
        ok: false,
        refusal: { reason: "insufficient_balance", spendableMicros: spendable, neededMicros: needed },
      };
    }
    const caps = this.options.capsOf?.(request.keyId);
    const held = this.heldByKey.get(request.keyId);
    if (caps?.dailySpendCapBase != null) {
      const remaining =
        caps.dailySpendCapBase * MICROS_PER_BASE - this.spentByKeyDay.get(this.dayKey(request.keyId)) - held;
      if (needed > remaining)
        return {
          ok: false,
          refusal: { reason: "daily_spend_cap", remainingMicros: max0(remaining), neededMicros: needed },
        };
    }
    if (caps?.totalSpendCapBase != null) {
      const remaining = caps.totalSpendCapBase * MICROS_PER_BASE - this.spentByKey.get(request.keyId) - held;
      if (needed > remaining)
        return {
          ok: false,
          refusal: { reason: "total_spend_cap", remainingMicros: max0(remaining), neededMicros: needed },
        };
    }
    const hold: StoredHold = {
      id: `hold-${this.nextHoldId++}`,
      requestId: request.requestId,
      account: request.account,
      keyId: request.keyId,
      amountMicros: needed,
      expiresAt: new Date(this.now() + request.ttlMs),
    };
    this.holds.set(hold.id, hold);
    this.heldByAccount.add(hold.account, needed);
    this.heldByKey.add(hold.keyId, needed);
    this.nextExpiryAtMs = Math.min(this.nextExpiryAtMs, hold.expiresAt.getTime());
    const { requestId: _, ...visible } = hold;
    return { ok: true, hold: { ...visible, spendableAfterMicros: spendable - needed } };
  }

  async commit(record: UsageRecordInput): Promise<void> {
    await this.latency();
    this.dropHold(record.holdId);
    if (this.records.has(record.requestId)) return;
    this.records.set(record.requestId, { ...record, usage: { ...record.usage } });
    this.unsettledByAccount.add(record.account, record.costMicros);
    this.spentByKey.add(record.keyId, record.costMicros);
    this.spentByKeyDay.add(this.dayKey(record.keyId), record.costMicros);
  }

  async extend(holdId: string, ttlMs: number): Promise<boolean> {
    await this.latency();
    this.expireHolds();
    const hold = this.holds.get(holdId);
    if (!hold) return false;
    const expiresAtMs = Math.max(hold.expiresAt.getTime(), this.now() + ttlMs);
    hold.expiresAt = new Date(expiresAtMs);
    this.nextExpiryAtMs = Math.min(this.nextExpiryAtMs, expiresAtMs);
    this.extensions += 1;
    return true;
  }

  async release(holdId: string): Promise<void> {
    await this.latency();
    if (this.dropHold(holdId)) this.releases += 1;
  }

  /** `onChainAvailable - unsettledUsage - activeHolds`, never below 0. Nothing is settled in these tests. */
  spendableMicros(account: Address): bigint {
    const available = this.availableMicros.get(account) ?? 0n;
    return max0(available - this.unsettledByAccount.get(account) - this.heldByAccount.get(account));
  }

  activeHolds(): Hold[] {
    this.expireHolds();
    return [...this.holds.values()];
  }

  spentMicros(account: Address): bigint {
    return this.unsettledByAccount.get(account);
  }

  private dropHold(holdId: string): boolean {
    const hold = this.holds.get(holdId);
    if (!hold) return false;
    this.holds.delete(holdId);
    this.heldByAccount.add(hold.account, -hold.amountMicros);
    this.heldByKey.add(hold.keyId, -hold.amountMicros);
    return true;
  }

  private dayKey(keyId: string): string {
    return `${keyId}@${Math.floor(this.now() / DAY_MS)}`;
  }

  /** What the real ledger's sweeper does for a crashed instance's holds. */
  private expireHolds(): void {
    const now = this.now();
    if (now < this.nextExpiryAtMs) return;
    this.nextExpiryAtMs = Infinity;
    for (const [id, hold] of this.holds) {
      const expiresAtMs = hold.expiresAt.getTime();
      if (expiresAtMs <= now) this.dropHold(id);
      else this.nextExpiryAtMs = Math.min(this.nextExpiryAtMs, expiresAtMs);
    }
  }

  private async latency(): Promise<void> {
    if (this.options.latencyMs) await new Promise((resolve) => setTimeout(resolve, this.options.latencyMs));
  }
}

function max0(value: bigint): bigint {
  return value < 0n ? 0n : value;
}

export class MemoryReadiness implements ReadinessCheck {
  failure: string | null = null;

  async check(): Promise<void> {
    if (this.failure) throw new Error(this.failure);
  }
}

export interface MemoryPorts {
  apiKeys: MemoryApiKeyStore;
  models: MemoryModelCatalog;
  upstreams: MemoryUpstreamDirectory;
  ledger: MemoryLedger;
  rateLimiter: MemoryRateLimiter;
  readiness: MemoryReadiness;
}

/** A full set of ports; the ledger reads spend caps from the key store, like the Postgres ledger reads the key's row. */
export function createMemoryPorts(options: { now?: () => number; ledgerLatencyMs?: number } = {}): MemoryPorts {
  const apiKeys = new MemoryApiKeyStore();
  return {
    apiKeys,
    models: new MemoryModelCatalog(),
    upstreams: new MemoryUpstreamDirectory(),
    ledger: new MemoryLedger({
      capsOf: (keyId) => apiKeys.byId(keyId),
      now: options.now,
      latencyMs: options.ledgerLatencyMs,
    }),
    rateLimiter: new MemoryRateLimiter({ clock: options.now }),
    readiness: new MemoryReadiness(),
  };
}
