/** The persistence layer's public surface: open the database, hash presented keys. */
export { openDatabase, DEFAULT_EMBEDDED_DATA_DIR, type Database, type OpenDatabaseOptions } from "./database";
export { hashApiKey, API_KEY_PREFIX } from "./apiKeys/apiKeySecret";
export type { Account } from "./accounts/accountRepository";
export type { ApiKeyDetails, ApiKeySettings, ApiKeySpend, CreatedApiKey, NewApiKey } from "./apiKeys/apiKeyRepository";
export type { ModelDetails, ModelInput } from "./models/modelRepository";
export type { NewUpstream, Provider, ProviderDetails, UpstreamDetails } from "./providers/providerRepository";
export type { AccountBalance } from "../domain/ledger/balance";
