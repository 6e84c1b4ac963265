import { randomUUID } from "node:crypto";
import { Wallet } from "ethers";
import pino from "pino";
import { start, type RunningGateway } from "../../../../server/app";
import { loadConfig } from "../../../../server/config";
import { MemoryRateLimiter } from "../../../../server/domain/rateLimit";
import type { Hold, UsageRecordInput } from "../../../../server/domain/ports";
import { openDatabase, type Database } from "../../../../server/persistence";
import { findFreePort } from "../../../../server/persistence/freePort";
import { loadWebConfig, postgresWebStores, type WebDeps } from "../../../../server/web";
import { createTestDatabase, type TestDatabase } from "../../../support/database";
import { Browser, signIn, type Wallet as SigningWallet } from "./browser";

export const ENCRYPTION_KEY = Buffer.alloc(32, 7);
export const PROVIDER_ADDRESS = "0x00000000000000000000000000000000000000aa";
export const UPSTREAM_ID = "00000000-0000-4000-8000-000000000001";
export const ESCROW_ADDRESS = "0x00000000000000000000000000000000000000e5";
export const TOKEN_ADDRESS = "0x00000000000000000000000000000000000000c0";

export interface WebHarness {
  gateway: RunningGateway;
  /** The gateway's own database connection. */
  db: Database;
  /** A second connection whose ledger clock the test sets, to record usage at chosen times. */
  writer: Database;
  setWriterClock(at: Date): void;
  testDatabase: TestDatabase;
  serverUrl: string;
  origin: string;
  browser(origin?: string): Browser;
  /** A new wallet, signed in, in a browser of its own. */
  signedIn(): Promise<{ wallet: SigningWallet; browser: Browser; address: string }>;
  close(): Promise<void>;
}

export interface WebHarnessOptions {
  env?: Record<string, string>;
  web?: Partial<WebDeps>;
}

/** A gateway with /api on a real Postgres database, listening on a free port that PUBLIC_BASE_URL names. */
export async function startWebHarness(options: WebHarnessOptions = {}): Promise<WebHarness> {
  const testDatabase = await createTestDatabase();
  const db = await openDatabase({ databaseUrl: testDatabase.url, upstreamKeyEncryptionKey: ENCRYPTION_KEY });
  let writerNow = new Date();
  const writer = await openDatabase({
    databaseUrl: testDatabase.url,
    upstreamKeyEncryptionKey: ENCRYPTION_KEY,
    clock: () => writerNow,
  });
  const port = await findFreePort();
  const origin = `http://127.0.0.1:${port}`;
  const env = {
    PORT: String(port),
    PUBLIC_BASE_URL: origin,
    LOG_LEVEL: "silent",
    HEALTH_CHECK_INTERVAL_MS: "600000",
    CATALOG_CACHE_TTL_MS: "0",
    API_KEY_CACHE_TTL_MS: "0",
    SHUTDOWN_GRACE_MS: "100",
    // Every test signs wallets in from 127.0.0.1; signInRateLimit.test.ts sets a low limit of its own.
    SIGN_IN_ATTEMPTS_PER_MINUTE: "100000",
    ...options.env,
  };
  const gateway = await start({
    config: loadConfig(env),
    logger: pino({ level: "silent" }),
    ports: {
      apiKeys: db.apiKeyStore,
      models: db.modelCatalog,
      upstreams: db.upstreamDirectory,
      ledger: db.ledger,
      rateLimiter: new MemoryRateLimiter(),
      readiness: db.readiness,
    },
    web: {
      stores: postgresWebStores(db),
      config: loadWebConfig(env),
      escrow: { escrowAddress: ESCROW_ADDRESS, tokenAddress: TOKEN_ADDRESS },
      ...options.web,
    },
  });
  const serverUrl = `http://127.0.0.1:${gateway.port}`;
  const browser = (pageOrigin = origin) => new Browser(serverUrl, pageOrigin);
  return {
    gateway,
    db,
    writer,
    setWriterClock: (at) => {
      writerNow = at;
    },
    testDatabase,
    serverUrl,
    origin,
    browser,
    async signedIn() {
      const wallet = new Wallet(Wallet.createRandom().privateKey);
      const page = browser();
      const response = await signIn(page, wallet);
      if (response.status !== 200) throw new Error(`sign-in failed: ${response.status} ${response.text}`);
      return { wallet, browser: page, address: wallet.address.toLowerCase() };
    },
    async close() {
      await gateway.stop();
      await writer.close();
      await db.close();
      await testDatabase.drop();
    },
  };
}

export interface RecordedRequest {
  requestId: string;
  costMicros: bigint;
  at: Date;
}

/**
 * Records one request's usage through the real ledger, at `at`: reserve a
 * hold, then commit the usage (which releases it), as the gateway does.
 */
export async function recordUsage(
  harness: WebHarness,
  input: { account: string; keyId: string; modelId: string; costMicros: bigint; at: Date; holdMicros?: bigint }
): Promise<RecordedRequest> {
  harness.setWriterClock(input.at);
  const requestId = `req-${randomUUID()}`;
  const reserved = await harness.writer.ledger.reserve({
    requestId,
    account: input.account,
    keyId: input.keyId,
    modelId: input.modelId,
    amountMicros: input.holdMicros ?? input.costMicros,
    ttlMs: 600_000,
  });
  if (!reserved.ok) throw new Error(`reserve refused: ${reserved.refusal.reason}`);
  await harness.writer.ledger.commit(usageRecord(requestId, reserved.hold, input));
  return { requestId, costMicros: input.costMicros, at: input.at };
}

function usageRecord(
  requestId: string,
  hold: Hold,
  input: { account: string; keyId: string; modelId: string; costMicros: bigint }
): UsageRecordInput {
  return {
    requestId,
    holdId: hold.id,
    account: input.account,
    keyId: input.keyId,
    modelId: input.modelId,
    providerAddress: PROVIDER_ADDRESS,
    upstreamId: UPSTREAM_ID,
    usage: { promptTokens: 10, completionTokens: 20 },
    cachedPromptTokens: 0,
    reasoningTokens: 0,
    costMicros: input.costMicros,
    estimated: false,
    outcome: "completed",
    stream: false,
    latencyMs: 42,
  };
}

export const MODEL = {
  id: "shareai/test-1",
  ownedBy: "shareai",
  created: 1_700_000_000,
  contextLength: 8192,
  maxOutputTokens: 1024,
  promptRatePerMTok: 250_000n,
  completionRatePerMTok: 1_000_000n,
};
