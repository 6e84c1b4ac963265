/**
 * The gateway's domain vocabulary, shared by the HTTP layer, the ledger and the
 * provider router. Amounts are integers with their unit in the name:
 * - `…Base`: USDC base units (1e-6 USDC), what the escrow counts in;
 * - `…Micros`: micro base units (1e-12 USDC), what metering counts in, so that
 *   `tokens × ratePerMTok` is exact with no rounding per request.
 */

/** An Ethereum address, lower-cased, 0x-prefixed: the identity of an account or a provider. */
export type Address = string;

export interface ModelPricing {
  /** USDC base units per 1,000,000 prompt tokens. */
  promptRatePerMTok: bigint;
  /** USDC base units per 1,000,000 completion tokens. */
  completionRatePerMTok: bigint;
}

export interface Model extends ModelPricing {
  id: string;
  ownedBy: string;
  /** Unix seconds, as OpenAI's `created`. */
  created: number;
  /** Context window in tokens. */
  contextLength: number;
  /** Worst-case completion length used for a hold when the request names no max tokens. */
  maxOutputTokens: number;
}

export interface ApiKey {
  id: string;
  account: Address;
  name: string;
  /** First characters of the key, safe to display (`sk-shareai-AbCd…`). */
  prefix: string;
  /** null: every model. */
  allowedModels: string[] | null;
  dailySpendCapBase: bigint | null;
  totalSpendCapBase: bigint | null;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
  revokedAt: Date | null;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

/** What a request costs: exact, in micro base units. */
export function costMicros(usage: TokenUsage, pricing: ModelPricing): bigint {
  return (
    BigInt(usage.promptTokens) * pricing.promptRatePerMTok +
    BigInt(usage.completionTokens) * pricing.completionRatePerMTok
  );
}
