import { DataSource } from "typeorm";
import { entities } from "./entities";
import { migrations } from "./migrations";

export interface DataSourceOptions {
  /** Connections in this process's pool (node-postgres' default is 10). */
  poolSize?: number;
  /** Shown in `pg_stat_activity`. */
  applicationName?: string;
}

/** The name whose hash is the advisory lock that serialises migrations across instances. */
const MIGRATION_LOCK_NAME = "shareai.migrations";

/**
 * The TypeORM DataSource over `url`. The schema is owned by the migrations, never
 * `synchronize`; `migrationsRun` stays off because `openDataSource` runs them
 * itself under an advisory lock (TypeORM takes none, and several gateway
 * instances starting together would otherwise race to create the same tables).
 */
export function createDataSource(url: string, options: DataSourceOptions = {}): DataSource {
  return new DataSource({
    type: "postgres",
    url,
    entities,
    migrations,
    migrationsRun: false,
    migrationsTransactionMode: "each",
    synchronize: false,
    // The schema needs no extension: gen_random_uuid() is core since Postgres 13.
    // "pgcrypto" only tells TypeORM that this is the uuid generator in use.
    installExtensions: false,
    uuidExtension: "pgcrypto",
    poolSize: options.poolSize,
    applicationName: options.applicationName ?? "shareai",
    logging: false,
  });
}

/** A DataSource that is connected and whose schema is up to date. */
export async function openDataSource(url: string, options: DataSourceOptions = {}): Promise<DataSource> {
  const dataSource = createDataSource(url, options);
  await dataSource.initialize();
  try {
    await runMigrationsExclusively(dataSource);
  } catch (error) {
    await dataSource.destroy();
    throw error;
  }
  return dataSource;
}

async function runMigrationsExclusively(dataSource: DataSource): Promise<void> {
  const lockHolder = dataSource.createQueryRunner();
  try {
    await lockHolder.query("SELECT pg_advisory_lock(hashtext($1))", [MIGRATION_LOCK_NAME]);
    try {
      await dataSource.runMigrations({ transaction: "each" });
    } finally {
      await lockHolder.query("SELECT pg_advisory_unlock(hashtext($1))", [MIGRATION_LOCK_NAME]);
    }
  } finally {
    await lockHolder.release();
  }
}
