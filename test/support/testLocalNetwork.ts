import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { loadConfig } from "../../server/config";
import { startLocalNetwork, type LocalNetwork } from "../../server/main/localNetwork";
import { createTestDatabase, type TestDatabase } from "./database";

export interface TestLocalNetwork {
  network: LocalNetwork;
  /** The environment the network was configured from (CLI commands run in-process reuse it). */
  env: Record<string, string>;
  dataDir: string;
  /** The gateway's origin: the base URL without `/v1`. */
  origin: string;
  stop(): Promise<void>;
}

/**
 * The whole local network in this process, as the end-to-end and browser tests use it: a local
 * chain on a free port, a fresh test database, free gateway port, no background health checks or
 * caches, and a settlement worker that settles whatever is there whenever the test ticks it.
 */
export async function startTestLocalNetwork(name: string): Promise<TestLocalNetwork> {
  const testDatabase: TestDatabase = await createTestDatabase();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `shareai-${name}-`));
  const env = {
    PORT: "0",
    LOG_LEVEL: "silent",
    DATABASE_URL: testDatabase.url,
    PG_DATA_DIR: path.join(dataDir, "postgres"),
    LOCAL_CHAIN_PORT: "0",
    HEALTH_CHECK_INTERVAL_MS: "600000",
    CATALOG_CACHE_TTL_MS: "0",
    API_KEY_CACHE_TTL_MS: "0",
    SHUTDOWN_GRACE_MS: "2000",
    SETTLEMENT_INTERVAL_MS: "0",
    SETTLEMENT_THRESHOLD_BASE: "1",
    SETTLEMENT_POLL_MS: "600000",
    CHAIN_POLL_INTERVAL_MS: "200",
    // The browser tests sign several wallets in from 127.0.0.1 within a minute.
    SIGN_IN_ATTEMPTS_PER_MINUTE: "100000",
  };
  let network: LocalNetwork;
  try {
    network = await startLocalNetwork(loadConfig(env), {
      logger: pino({ level: "silent" }),
      chain: "local",
      demoWordDelayMs: 0,
    });
  } catch (error) {
    await testDatabase.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    network,
    env,
    dataDir,
    origin: network.url.replace(/\/v1$/, ""),
    stop: async () => {
      await network.stop();
      await testDatabase.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
