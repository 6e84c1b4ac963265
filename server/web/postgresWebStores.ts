import type { Database } from "../persistence";
import { pgPoolOf } from "../persistence/pgPool";
import { PostgresNonceStore, PostgresSessionStore } from "../persistence/sessions";
import { AccountKeys, ModelProviderCounts, UsageHistory } from "../persistence/usage";
import { PostgresProviderPortalStore } from "./providers/providerPortalStore";
import type { WebStores } from "./webContext";

/**
 * The web API's stores over the gateway's database. Kept apart from the
 * routes so that `createApp` stays free of Postgres: the composition root
 * builds these, tests may pass others.
 */
export function postgresWebStores(
  database: Pick<Database, "dataSource" | "accounts" | "apiKeys"> & Partial<Pick<Database, "providers">>,
): WebStores {
  const pool = pgPoolOf(database.dataSource);
  return {
    nonces: new PostgresNonceStore(pool),
    sessions: new PostgresSessionStore(pool),
    accounts: database.accounts,
    apiKeys: database.apiKeys,
    accountKeys: new AccountKeys(pool),
    usage: new UsageHistory(pool),
    providerCounts: new ModelProviderCounts(pool),
    providerPortal: database.providers ? new PostgresProviderPortalStore(pool, database.providers) : undefined,
  };
}
