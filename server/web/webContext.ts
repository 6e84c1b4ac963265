import type { ApiKeyAuthenticator } from "../domain/auth/apiKeyAuthenticator";
import type { ModelCatalog } from "../domain/ports";
import type { Address } from "../domain/types";
import type { AccountRepository } from "../persistence/accounts/accountRepository";
import type { ApiKeyRepository } from "../persistence/apiKeys/apiKeyRepository";
import type { PostgresNonceStore, PostgresSessionStore } from "../persistence/sessions";
import type { AccountKeys, ModelProviderCounts, UsageHistory } from "../persistence/usage";
import type { SessionCookies } from "./auth/cookies";
import type { ProviderPortalStore } from "./providers/providerPortalStore";
import type { PublicSite } from "./publicSite";
import type { WebConfig } from "./webConfig";

/** Where the web API reads and writes. */
export interface WebStores {
  nonces: Pick<PostgresNonceStore, "issue" | "consume">;
  sessions: Pick<PostgresSessionStore, "create" | "find" | "delete">;
  accounts: Pick<AccountRepository, "getBalance">;
  apiKeys: Pick<ApiKeyRepository, "create" | "update" | "revoke">;
  accountKeys: Pick<AccountKeys, "list" | "get" | "countActive">;
  usage: Pick<UsageHistory, "list" | "daily">;
  providerCounts: Pick<ModelProviderCounts, "byModel">;
  /** The Provider page's store; without it, /api/provider answers 503. */
  providerPortal?: ProviderPortalStore;
}

/** The escrow this deployment settles on, when the composition root knows it. */
export interface EscrowInfo {
  escrowAddress: Address | null;
  tokenAddress: Address | null;
}

/** Everything the web API's handlers share, built once by `createWebApi`. */
export interface WebContext {
  stores: WebStores;
  site: PublicSite;
  cookies: SessionCookies;
  config: WebConfig;
  /** The cached catalog the /v1 routes use. */
  catalog: ModelCatalog;
  authenticator: ApiKeyAuthenticator;
  escrow: EscrowInfo;
  thawEndsAt: ((account: Address) => Promise<Date | null>) | null;
  catalogCacheTtlMs: number;
  /** The gateways' upstream health checks: how old a stored check may be and still say "online". */
  healthCheck: { intervalMs: number; timeoutMs: number };
  /** Milliseconds since the epoch. */
  now: () => number;
}
