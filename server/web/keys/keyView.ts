import type { KeyWithSpend } from "../../persistence/usage";
import { amountFromBase, amountFromMicros, type AmountView } from "../http/amount";

/** A key as the API page shows it. The secret is never part of it. */
export interface KeyView {
  id: string;
  name: string;
  /** `sk-shareai-AbCd`: enough to recognise the key, useless to use it. */
  prefix: string;
  /** null: every model. */
  allowed_models: string[] | null;
  daily_spend_cap: AmountView | null;
  total_spend_cap: AmountView | null;
  requests_per_minute: number | null;
  tokens_per_minute: number | null;
  created_at: string;
  last_used_at: string | null;
  revoked: boolean;
  revoked_at: string | null;
  spend: { today: AmountView; total: AmountView; held: AmountView };
}

export function keyView(key: KeyWithSpend): KeyView {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    allowed_models: key.allowedModels,
    daily_spend_cap: key.dailySpendCapBase === null ? null : amountFromBase(key.dailySpendCapBase),
    total_spend_cap: key.totalSpendCapBase === null ? null : amountFromBase(key.totalSpendCapBase),
    requests_per_minute: key.requestsPerMinute,
    tokens_per_minute: key.tokensPerMinute,
    created_at: key.createdAt.toISOString(),
    last_used_at: key.lastUsedAt?.toISOString() ?? null,
    revoked: key.revokedAt !== null,
    revoked_at: key.revokedAt?.toISOString() ?? null,
    spend: {
      today: amountFromMicros(key.spend.todaySpentMicros),
      total: amountFromMicros(key.spend.totalSpentMicros),
      held: amountFromMicros(key.spend.heldMicros),
    },
  };
}
