/**
 * The ShareAI gateway as the benchmark runs it: its own process (so it can be
 * pinned with taskset and measured through /proc), configured from the
 * environment like production (`DATABASE_URL`, `PORT`, `LOG_LEVEL`, …), with
 * the real Postgres ledger and the rate limiter.
 *
 *   DATABASE_URL=postgres://… PORT=8080 node --require tsx/cjs scripts/bench/gatewayServer.ts
 *
 * It runs the production composition root, `startGateway(loadConfig(env))`
 * (database, rate limiter, HTTP server, hold sweeper). BENCH_COMPOSE=manual
 * composes the same by hand instead (`openDatabase` + `createRateLimiter` +
 * `start({ ports })` + the hold sweeper), for comparing against it.
 *
 * SIGTERM/SIGINT stop it gracefully, then it exits, so that `--cpu-prof` writes
 * its profile.
 */
import { start } from "../../server/app";
import { loadConfig } from "../../server/config";
import { startHoldSweeper } from "../../server/domain/ledger/holdSweeper";
import { createRateLimiter } from "../../server/domain/rateLimit/createRateLimiter";
import { startGateway } from "../../server/main/startGateway";
import { openDatabase } from "../../server/persistence";

type Stop = () => Promise<void>;

async function composeManually(): Promise<{ url: string; stop: Stop }> {
  const config = loadConfig(process.env);
  const db = await openDatabase({
    databaseUrl: config.databaseUrl ?? undefined,
    embeddedDataDir: config.pgDataDir,
    upstreamKeyEncryptionKey: config.upstreamKeyEncryptionKey ?? undefined,
    onBackgroundError: (error) => console.error("background write failed", error),
  });
  const rateLimiter = await createRateLimiter({ redisUrl: config.redisUrl });
  const gateway = await start({
    config,
    ports: {
      apiKeys: db.apiKeyStore,
      models: db.modelCatalog,
      upstreams: db.upstreamDirectory,
      ledger: db.ledger,
      rateLimiter: rateLimiter.limiter,
      readiness: db.readiness,
    },
  });
  const sweeper = startHoldSweeper(db.ledger, {
    intervalMs: 60_000,
    onError: (error) => console.error("hold sweep failed", error),
  });
  return {
    url: gateway.url,
    stop: async () => {
      await gateway.stop();
      await sweeper.stop();
      await rateLimiter.close();
      await db.close();
    },
  };
}

/** The production composition root (`server/main/startGateway.ts`), as `shareai start` runs it. */
async function composeWithStartGateway(): Promise<{ url: string; stop: Stop }> {
  const gateway = await startGateway(loadConfig(process.env));
  return { url: gateway.url, stop: () => gateway.stop() };
}

async function main(): Promise<void> {
  const manual = process.env.BENCH_COMPOSE === "manual";
  const composed = manual ? await composeManually() : await composeWithStartGateway();
  process.stderr.write(`bench gateway (${manual ? "manual composition" : "startGateway"}) ready at ${composed.url}\n`);
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    composed.stop().then(
      () => process.exit(0),
      (error) => {
        console.error("stop failed", error);
        process.exit(1);
      }
    );
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
