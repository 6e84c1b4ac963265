/**
 * A gateway in a process of its own, for the system test that kills one with
 * SIGKILL (test/system/crash.test.ts). Run it as ONE process, so the signal
 * reaches the gateway itself (the `tsx` CLI would put a second node process in
 * between):
 *
 *   node --require tsx/cjs test/support/gatewayChild.ts
 *
 * Environment: DATABASE_URL (required), the gateway's configuration variables
 * (PORT=0 picks a free port), and, for tests only:
 * HOLD_TTL_MS may be below the configuration's 10 s minimum (e.g. 2000), so
 * that holds left by a killed instance expire within the test. Like every
 * instance started by `startGateway`, it runs the hold sweeper (every
 * max(1 s, TTL / 10)).
 *
 * When it listens it prints one line on stdout: {"shareaiGatewayChild": {"url", "pid"}}.
 * SIGTERM or SIGINT stop it gracefully.
 */
import { CONFIG_VARIABLES } from "../../server/config";
import type { GatewayConfig } from "../../server/config";
import { startSystemGateway } from "./systemGateway";

/** The configuration's own lower bound for HOLD_TTL_MS. */
const CONFIG_MIN_HOLD_TTL_MS = 10_000;

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error("gatewayChild: DATABASE_URL is required");

  const env: Record<string, string | undefined> = {};
  for (const name of Object.keys(CONFIG_VARIABLES)) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  const overrides: Partial<GatewayConfig> = {};
  const holdTtlMs = env.HOLD_TTL_MS === undefined ? undefined : Number(env.HOLD_TTL_MS);
  if (holdTtlMs !== undefined && Number.isInteger(holdTtlMs) && holdTtlMs > 0 && holdTtlMs < CONFIG_MIN_HOLD_TTL_MS) {
    delete env.HOLD_TTL_MS;
    overrides.holdTtlMs = holdTtlMs;
  }
  const sys = await startSystemGateway({ databaseUrl, env, configOverrides: overrides });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    sys.stop().then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdout.write(`${JSON.stringify({ shareaiGatewayChild: { url: sys.url, pid: process.pid } })}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
