import type { Logger } from "pino";
import type { GatewayConfig } from "../config";
import { openDatabase, type Database } from "../persistence";
import { runningEmbeddedPostgresUrl } from "./runningEmbeddedPostgres";

export interface GatewayDatabaseOptions {
  logger?: Pick<Logger, "debug" | "warn">;
  /**
   * For short-lived admin commands: when the embedded Postgres is already
   * running (a gateway owns it), connect to it rather than adopt it, so
   * closing this database leaves the server running.
   */
  shareRunningEmbedded?: boolean;
}

/** Where the configuration keeps the data, in words (for banners and errors). */
export function describeDatabase(config: Pick<GatewayConfig, "databaseUrl" | "pgDataDir">): string {
  if (!config.databaseUrl) return `embedded Postgres in ${config.pgDataDir}`;
  const url = new URL(config.databaseUrl);
  return `Postgres at ${url.hostname}${url.port ? `:${url.port}` : ""}${url.pathname}`;
}

/** The database the configuration names: `DATABASE_URL`, or the embedded Postgres in `PG_DATA_DIR`. */
export async function openGatewayDatabase(
  config: GatewayConfig,
  options: GatewayDatabaseOptions = {},
): Promise<Database> {
  const logger = options.logger;
  const common = {
    upstreamKeyEncryptionKey: config.upstreamKeyEncryptionKey ?? undefined,
    onBackgroundError: (error: unknown) => logger?.warn({ err: error }, "database: background write failed"),
  };
  if (config.databaseUrl) return openDatabase({ ...common, databaseUrl: config.databaseUrl });
  if (options.shareRunningEmbedded) {
    const runningUrl = await runningEmbeddedPostgresUrl(config.pgDataDir);
    if (runningUrl) return openDatabase({ ...common, databaseUrl: runningUrl });
  }
  return openDatabase({
    ...common,
    embeddedDataDir: config.pgDataDir,
    embeddedLog: (line) => logger?.debug({ component: "postgres" }, line.trim()),
  });
}
