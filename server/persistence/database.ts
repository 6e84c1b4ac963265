import type { DataSource } from "typeorm";
import type { ApiKeyStore, ModelCatalog, ReadinessCheck, UpstreamDirectory } from "../domain/ports";
import { AccountRepository } from "./accounts/accountRepository";
import { ApiKeyRepository } from "./apiKeys/apiKeyRepository";
import { KeyUsageBatcher } from "./apiKeys/keyUsageBatcher";
import { PostgresApiKeyStore } from "./apiKeys/postgresApiKeyStore";
import { ChainRepository } from "./chain/chainRepository";
import { openDataSource } from "./dataSource";
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from "./embeddedPostgres";
import { PostgresLedger } from "./ledger/postgresLedger";
import { ModelRepository } from "./models/modelRepository";
import { PostgresModelCatalog } from "./models/postgresModelCatalog";
import { pgPoolOf } from "./pgPool";
import { PostgresUpstreamDirectory } from "./providers/postgresUpstreamDirectory";
import { PostgresUpstreamHealthLog } from "./providers/postgresUpstreamHealthLog";
import { ProviderRepository } from "./providers/providerRepository";
import { createDatabaseIfMissing, urlWithDatabase } from "./serverAdmin";
import { SettlementTxRepository } from "./vouchers/settlementTxRepository";
import { VoucherRepository } from "./vouchers/voucherRepository";

export const DEFAULT_EMBEDDED_DATA_DIR = ".data/postgres";
const EMBEDDED_DATABASE_NAME = "shareai";

export interface OpenDatabaseOptions {
  /** `postgres://…` of an existing database. Without it, an embedded Postgres is started. */
  databaseUrl?: string;
  /** Where the embedded Postgres keeps its data (default `.data/postgres`). */
  embeddedDataDir?: string;
  /** Receives the embedded Postgres' log lines. */
  embeddedLog?: (line: string) => void;
  /** 32-byte key sealing upstream API keys (AES-256-GCM); needed once any upstream has a key. */
  upstreamKeyEncryptionKey?: Buffer;
  /** Connections per gateway instance. */
  poolSize?: number;
  /** How often key uses are written (default 1 s). */
  keyTouchFlushMs?: number;
  /** Failures of background writes (key uses). */
  onBackgroundError?: (error: unknown) => void;
  /** The ledger's and the repositories' clock; tests pass a fixed one. */
  clock?: () => Date;
}

/** Everything the gateway keeps in Postgres, behind the ports of `server/domain/ports.ts`. */
export interface Database {
  /** Holds and usage; also sweeps expired holds (`startHoldSweeper(database.ledger, …)`). */
  ledger: PostgresLedger;
  apiKeyStore: ApiKeyStore;
  modelCatalog: ModelCatalog;
  upstreamDirectory: UpstreamDirectory;
  /** Where upstream health checks are written (the gateway's checker, the Provider page's live check). */
  upstreamHealth: PostgresUpstreamHealthLog;
  accounts: AccountRepository;
  apiKeys: ApiKeyRepository;
  models: ModelRepository;
  providers: ProviderRepository;
  /** What the chain watcher applied: escrow balances, settlements, earnings (docs/chain-watcher.md). */
  chain: ChainRepository;
  /** Settlement vouchers and their links to usage records (docs/settlement-worker.md). */
  vouchers: VoucherRepository;
  /** The settlement worker's `settle` transactions and what they paid. */
  settlementTransactions: SettlementTxRepository;
  dataSource: DataSource;
  /** For `/readyz`: resolves after a round trip to the database, rejects with why it failed. */
  readiness: ReadinessCheck;
  /**
   * Finishes the reserves and commits in progress, writes pending key uses,
   * closes the pool, and stops the embedded Postgres if it started one.
   */
  close(): Promise<void>;
}

export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  let embedded: EmbeddedPostgresServer | null = null;
  let url = options.databaseUrl;
  if (!url) {
    embedded = await startEmbeddedPostgres({
      dataDir: options.embeddedDataDir ?? DEFAULT_EMBEDDED_DATA_DIR,
      log: options.embeddedLog,
    });
    url = urlWithDatabase(embedded.url, EMBEDDED_DATABASE_NAME);
  }
  try {
    if (embedded) await createDatabaseIfMissing(embedded.url, EMBEDDED_DATABASE_NAME);
    const dataSource = await openDataSource(url, { poolSize: options.poolSize });
    return assemble(dataSource, embedded, options);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

function assemble(
  dataSource: DataSource,
  embedded: EmbeddedPostgresServer | null,
  options: OpenDatabaseOptions,
): Database {
  const pool = pgPoolOf(dataSource);
  const clock = options.clock ?? (() => new Date());
  const keyUses = new KeyUsageBatcher(pool, {
    flushIntervalMs: options.keyTouchFlushMs,
    onError: options.onBackgroundError,
  });
  const encryptionKey = options.upstreamKeyEncryptionKey;
  const ledger = new PostgresLedger(pool, { clock });
  let closing: Promise<void> | null = null;
  return {
    ledger,
    apiKeyStore: new PostgresApiKeyStore(pool, keyUses),
    modelCatalog: new PostgresModelCatalog(pool),
    upstreamDirectory: new PostgresUpstreamDirectory(pool, encryptionKey),
    upstreamHealth: new PostgresUpstreamHealthLog(pool),
    accounts: new AccountRepository(dataSource),
    apiKeys: new ApiKeyRepository(dataSource, clock),
    models: new ModelRepository(dataSource),
    providers: new ProviderRepository(dataSource, { encryptionKey }),
    chain: new ChainRepository(pool),
    vouchers: new VoucherRepository(pool),
    settlementTransactions: new SettlementTxRepository(pool),
    dataSource,
    readiness: {
      async check() {
        await pool.query("SELECT 1");
      },
    },
    close() {
      closing ??= (async () => {
        try {
          await ledger.drained();
          await keyUses.close();
        } finally {
          await dataSource.destroy();
          await embedded?.stop();
        }
      })();
      return closing;
    },
  };
}
