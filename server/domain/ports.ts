import type { Address, ApiKey, Model, TokenUsage } from "./types";

/**
 * The narrow interfaces between the HTTP layer and what it uses. The HTTP layer
 * and the use cases depend only on these; `server/persistence` implements them
 * over Postgres, and tests may pass their own.
 */

/** Looks up API keys by the SHA-256 hash of the presented secret. */
export interface ApiKeyStore {
  /** The key whose secret hashes to `sha256Hex`, revoked or not; null if none. */
  findByHash(sha256Hex: string): Promise<ApiKey | null>;
  /** Records that the key was used (may be batched; never on the request's critical path). */
  touch(keyId: string, at: Date): void;
}

export interface ModelCatalog {
  /** Every model on the network, for `GET /v1/models`. */
  list(): Promise<Model[]>;
  get(id: string): Promise<Model | null>;
}

/** An upstream of a provider, as the router sees it. */
export interface UpstreamTarget {
  id: string;
  providerId: string;
  /** The provider's payout address: who earns for this request. */
  providerAddress: Address;
  /** OpenAI-compatible base URL ending in `/v1` (e.g. `http://127.0.0.1:8000/v1`). */
  baseUrl: string;
  /** Decrypted upstream API key, if the upstream needs one. */
  apiKey: string | null;
  /** The model name to send upstream (may differ from the network's model id). */
  upstreamModel: string;
}

export interface UpstreamDirectory {
  /** Whether the deployment has any provider upstream at all (distinguishes the two 503s). */
  hasAnyUpstream(): Promise<boolean>;
  /** Every enabled upstream serving `modelId`; health is the router's business. */
  upstreamsFor(modelId: string): Promise<UpstreamTarget[]>;
}

/** Why a hold could not be placed. */
export type HoldRefusal =
  | { reason: "insufficient_balance"; spendableMicros: bigint; neededMicros: bigint }
  | { reason: "daily_spend_cap"; remainingMicros: bigint; neededMicros: bigint }
  | { reason: "total_spend_cap"; remainingMicros: bigint; neededMicros: bigint };

export interface Hold {
  id: string;
  account: Address;
  keyId: string;
  amountMicros: bigint;
  expiresAt: Date;
  /**
   * What the account could still spend once this hold was placed, in micro
   * base units, when the ledger read it anyway: a hint for sizing the next
   * holds (`SpendableHints`), never a basis for admitting a request.
   */
  spendableAfterMicros?: bigint;
}

export interface HoldRequest {
  /** The request id (`x-request-id`); also the usage record's natural key, so it is written once. */
  requestId: string;
  account: Address;
  keyId: string;
  modelId: string;
  amountMicros: bigint;
  /** How long the hold lives if nobody releases it (a crashed instance). */
  ttlMs: number;
}

export interface UsageRecordInput {
  requestId: string;
  holdId: string;
  account: Address;
  keyId: string;
  modelId: string;
  providerAddress: Address;
  upstreamId: string;
  usage: TokenUsage;
  /** Cached prompt tokens and reasoning tokens, informational: already inside promptTokens/completionTokens. */
  cachedPromptTokens: number;
  reasoningTokens: number;
  costMicros: bigint;
  /** True when the tokens were counted by our tokenizer because the upstream reported none. */
  estimated: boolean;
  /** How the request ended: completed, client_disconnected, upstream_error. */
  outcome: "completed" | "client_disconnected" | "upstream_error";
  stream: boolean;
  latencyMs: number;
}

/**
 * The money side of a request. `reserve` is atomic across every gateway instance:
 * no number of concurrent requests can hold more than an account can spend.
 */
export interface Ledger {
  reserve(request: HoldRequest): Promise<{ ok: true; hold: Hold } | { ok: false; refusal: HoldRefusal }>;
  /** Releases the hold and records the usage in one transaction. Idempotent by request id. */
  commit(record: UsageRecordInput): Promise<void>;
  /** Releases a hold with nothing to bill (the request failed before any token was generated). */
  release(holdId: string): Promise<void>;
  /**
   * Pushes a hold's expiry to `ttlMs` from now (never earlier), for a request
   * still running when its hold would expire. False when the hold is gone
   * (committed, released, or swept).
   */
  extend(holdId: string, ttlMs: number): Promise<boolean>;
}

/** A key's rate limits, per minute; null: unlimited. Positive integers. */
export interface RateLimits {
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
}

/** What a request counts against the limits when it is admitted. */
export interface RateLimitCost {
  /** 1 for one API request. */
  requests: number;
  /** The worst case: prompt tokens + max completion tokens. Corrected with `adjustTokens` afterwards. */
  tokens: number;
}

/**
 * Headers to send as they are: OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`
 * for each limit that is set (reset like `"6s"`, `"1m0s"`), plus `retry-after` (seconds) and
 * `retry-after-ms` on a refusal. Empty for a key without limits.
 */
export type RateLimitHeaders = Record<string, string>;

export type RateLimitDecision =
  | { allowed: true; headers: RateLimitHeaders }
  | {
      allowed: false;
      /** The limit that refused the request. */
      limit: "requests" | "tokens";
      limitPerMinute: number;
      requested: number;
      /** False when `requested` exceeds the whole per-minute limit: retrying cannot help (`x-should-retry: false`). */
      retryable: boolean;
      /** When every limit has room for this request again (if nothing else is admitted meanwhile). */
      retryAfterMs: number;
      /** `retryAfterMs` rounded up to whole seconds, at least 1: the `retry-after` header. */
      retryAfterSeconds: number;
      headers: RateLimitHeaders;
    };

/**
 * Per-key request and token rate limits. Atomic across every gateway instance that
 * shares the backing store. A refused check consumes nothing.
 */
export interface RateLimiter {
  /** Admits the request and charges `cost` to every limit that is set, or refuses it and charges nothing. */
  check(keyId: string, limits: RateLimits, cost: RateLimitCost): Promise<RateLimitDecision>;
  /**
   * Corrects the token charge once the real usage is known: `actual - estimated`
   * (negative refunds, positive adds). Takes the key's limits because the tokens
   * drain at the key's rate; a no-op when it has no token limit.
   */
  adjustTokens(keyId: string, limits: RateLimits, deltaTokens: number): Promise<void>;
}

/** Whether this instance can serve traffic: `GET /readyz`, what a load balancer polls. */
export interface ReadinessCheck {
  /** Resolves when the gateway's dependencies answer (the database); rejects with the reason otherwise. */
  check(): Promise<void>;
}
