import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { startEmbeddedPostgres, type EmbeddedPostgresServer } from "../../server/persistence/embeddedPostgres";
import { createDatabaseIfMissing, dropDatabase, urlWithDatabase } from "../../server/persistence/serverAdmin";

/**
 * A fresh, empty database per test file (or per test), on the server named by
 * DATABASE_URL (CI) or, without it, on one embedded Postgres started for the
 * whole test run and removed at its end.
 */

export interface TestDatabase {
  /** `postgres://…` of the new, empty database. */
  url: string;
  /** Drops the database, closing whatever connections are still open on it. */
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const serverUrl = process.env.DATABASE_URL || (await embeddedTestServer()).url;
  const name = `shareai_test_${process.pid}_${randomBytes(6).toString("hex")}`;
  await createDatabaseIfMissing(serverUrl, name);
  return { url: urlWithDatabase(serverUrl, name), drop: () => dropDatabase(serverUrl, name) };
}

let embeddedServer: Promise<EmbeddedPostgresServer> | null = null;

function embeddedTestServer(): Promise<EmbeddedPostgresServer> {
  embeddedServer ??= startEmbeddedPostgres({
    dataDir: path.join(os.tmpdir(), `shareai-test-postgres-${process.pid}-${randomBytes(4).toString("hex")}`),
    ephemeral: true,
    // A throwaway cluster: durability would only slow the tests down.
    settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off", max_connections: "300" },
  });
  return embeddedServer;
}

/** Stops the run's embedded Postgres, if one was started. */
export async function stopTestDatabaseServer(): Promise<void> {
  const server = embeddedServer;
  embeddedServer = null;
  if (server) await (await server).stop();
}

// Registered as a root-level hook the first time a test file imports this module.
if (typeof after === "function") after(stopTestDatabaseServer);
