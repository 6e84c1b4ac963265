import pino from "pino";
import { loadConfig, type GatewayConfig } from "../config";
import { openGatewayDatabase } from "../main/gatewayDatabase";
import type { Database } from "../persistence";
import type { CliIo } from "./io";

/**
 * Runs one admin command against the database the configuration names
 * (DATABASE_URL, or the embedded Postgres in PG_DATA_DIR), then closes it.
 * An embedded Postgres that a running gateway owns is connected to and left
 * running; one this command had to start is stopped again.
 */
export async function withDatabase<T>(
  io: CliIo,
  work: (database: Database, config: GatewayConfig) => Promise<T>,
): Promise<T> {
  const config = loadConfig(io.env);
  // Logs (the embedded server's, failed background writes) go to stderr, so stdout stays the command's output.
  const logger = pino(
    { level: config.logLevel, base: { service: "shareai-cli" } },
    pino.destination({ dest: 2, sync: true }),
  );
  const database = await openGatewayDatabase(config, { logger, shareRunningEmbedded: true });
  try {
    return await work(database, config);
  } finally {
    await database.close();
  }
}
