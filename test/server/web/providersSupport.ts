import pino from "pino";
import { start, type RunningGateway } from "../../../server/app";
import { loadConfig } from "../../../server/config";
import { MemoryRateLimiter } from "../../../server/domain/rateLimit";
import { openDatabase, type Database } from "../../../server/persistence";
import { loadWebConfig, postgresWebStores } from "../../../server/web";
import { Browser } from "./support/browser";
import { ENCRYPTION_KEY, type WebHarness } from "./support/webHarness";

/**
 * Another gateway instance on the harness's database, as a second process (or the same one after
 * a restart) would be: its own connection pool, caches, routing state and health checker, which
 * writes its results (unlike the harness's own instance, whose checker has no health log).
 */
export interface SecondInstance {
  gateway: RunningGateway;
  db: Database;
  serverUrl: string;
  /** A browser on this instance carrying `browser`'s cookies: the same session, another server. */
  sameSession(browser: Browser): Browser;
  close(): Promise<void>;
}

export async function startSecondInstance(harness: WebHarness, env: Record<string, string> = {}): Promise<SecondInstance> {
  const db = await openDatabase({ databaseUrl: harness.testDatabase.url, upstreamKeyEncryptionKey: ENCRYPTION_KEY });
  const config = {
    PORT: "0",
    PUBLIC_BASE_URL: harness.origin,
    LOG_LEVEL: "silent",
    HEALTH_CHECK_INTERVAL_MS: "600000",
    CATALOG_CACHE_TTL_MS: "0",
    API_KEY_CACHE_TTL_MS: "0",
    SHUTDOWN_GRACE_MS: "100",
    ...env,
  };
  let gateway: RunningGateway;
  try {
    gateway = await start({
      config: loadConfig(config),
      logger: pino({ level: "silent" }),
      ports: {
        apiKeys: db.apiKeyStore,
        models: db.modelCatalog,
        upstreams: db.upstreamDirectory,
        upstreamHealth: db.upstreamHealth,
        ledger: db.ledger,
        rateLimiter: new MemoryRateLimiter(),
        readiness: db.readiness,
      },
      web: { stores: postgresWebStores(db), config: loadWebConfig(config) },
    });
  } catch (error) {
    await db.close();
    throw error;
  }
  const serverUrl = `http://127.0.0.1:${gateway.port}`;
  return {
    gateway,
    db,
    serverUrl,
    sameSession(browser) {
      const other = new Browser(serverUrl, harness.origin);
      for (const [name, value] of browser.cookies) other.cookies.set(name, value);
      return other;
    },
    async close() {
      await gateway.stop();
      await db.close();
    },
  };
}

/** One chat completion with an API key, straight to an instance's /v1. */
export async function chat(serverUrl: string, secret: string, model: string, body: Record<string, unknown> = {}) {
  const response = await fetch(`${serverUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hello there" }], max_tokens: 16, ...body }),
  });
  return { status: response.status, body: (await response.json()) as any };
}
