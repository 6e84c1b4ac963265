import { Client } from "pg";

/**
 * Database-level chores on a Postgres server (the maintenance database of the
 * server named by `serverUrl`). Database names are identifiers, which SQL cannot
 * take as parameters: they are quoted with `escapeIdentifier`.
 */

/** `url` with its path (the database) replaced by `database`. */
export function urlWithDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

async function withMaintenanceClient<T>(serverUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: urlWithDatabase(serverUrl, "postgres") });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createDatabaseIfMissing(serverUrl: string, database: string): Promise<void> {
  await withMaintenanceClient(serverUrl, async (client) => {
    const existing = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (existing.rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    }
  });
}

/** Drops the database, disconnecting whoever is still connected to it. */
export async function dropDatabase(serverUrl: string, database: string): Promise<void> {
  await withMaintenanceClient(serverUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(database)} WITH (FORCE)`);
  });
}
