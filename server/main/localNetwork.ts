import type { Logger } from "pino";
import { createLogger } from "../app";
import type { GatewayConfig } from "../config";
import { issueDemoAccess, type DemoAccess } from "../demo/demoAccount";
import { DEMO_MODEL } from "../demo/demoModel";
import { decideDemo, registerDemoProvider, type DemoDecision } from "../demo/demoProvider";
import { startEchoUpstream } from "../demo/echoUpstream";
import { openGatewayDatabase } from "./gatewayDatabase";
import { startAll } from "./lifecycle";
import { assertPortAvailable } from "./portAvailability";
import { startGateway } from "./startGateway";

export interface LocalNetworkOptions {
  logger?: Logger;
  /** false: never start the demo, whatever the database holds (`shareai start --no-demo`). */
  demo?: boolean;
  /** Pause between the demo's streamed words (tests pass 0). */
  demoWordDelayMs?: number;
}

export interface LocalDemo extends DemoAccess {
  modelId: string;
  /** Where the echo upstream listens (the gateway's upstream; clients use the gateway). */
  upstreamBaseUrl: string;
}

export interface LocalNetwork {
  /** The gateway's OpenAI base URL, `…/v1`. */
  url: string;
  port: number;
  rateLimitBackend: "memory" | "redis";
  /** Set when the demo runs: the key to print, and what it may use. */
  demo: LocalDemo | null;
  /** Why the demo runs or not, for the banner. */
  demoDecision: DemoDecision;
  /** Everything stopped in reverse order: the gateway (drained), the demo upstream, the database. */
  stop(): Promise<void>;
}

/**
 * What `shareai start` runs: the database the configuration names (embedded
 * by default), the demo provider when the database has none, and a gateway.
 *
 * This is where the whole local network grows (issue 5): a local chain on a
 * free port and the contracts deployed before the database, the demo
 * deposit made on that chain instead of written to the ledger, and the
 * watcher and settlement worker inside `startGateway`. Each part is one more
 * `lifecycle.add`, so stopping stays reverse order of start.
 */
export async function startLocalNetwork(
  config: GatewayConfig,
  options: LocalNetworkOptions = {},
): Promise<LocalNetwork> {
  const logger = options.logger ?? createLogger(config);
  const { value, lifecycle } = await startAll(async (lifecycle) => {
    // Before the database: a gateway already running here owns the embedded Postgres we would take over.
    await assertPortAvailable(config.host, config.port);
    const database = lifecycle.add("database", await openGatewayDatabase(config, { logger }), (db) => db.close());

    const demoDecision: DemoDecision =
      options.demo === false ? { run: false, reason: "--no-demo" } : await decideDemo(database);
    let demo: LocalDemo | null = null;
    if (demoDecision.run) {
      const echo = lifecycle.add(
        "demo upstream",
        await startEchoUpstream({ wordDelayMs: options.demoWordDelayMs }),
        (upstream) => upstream.close(),
      );
      await registerDemoProvider(database, echo.baseUrl);
      demo = { ...(await issueDemoAccess(database)), modelId: DEMO_MODEL.id, upstreamBaseUrl: echo.baseUrl };
      logger.info({ model: DEMO_MODEL.id, upstream: echo.baseUrl }, "demo upstream serving");
    }

    const gateway = lifecycle.add("gateway", await startGateway(config, { database, logger }), (g) => g.stop());
    return { gateway, demo, demoDecision };
  });
  return {
    url: value.gateway.url,
    port: value.gateway.port,
    rateLimitBackend: value.gateway.rateLimitBackend,
    demo: value.demo,
    demoDecision: value.demoDecision,
    stop: () => lifecycle.stop(),
  };
}
