import type { Database, ProviderDetails } from "../persistence";
import { DEMO_MODEL } from "./demoModel";

/**
 * The demo provider in the database: one provider, paid at Hardhat's
 * well-known development account #2, with one upstream (the echo server of
 * this run) serving the demo model. Hardhat's accounts are chosen because the
 * local chain of `npm start` will fund and pay them; their private keys are
 * public, so they must never hold real money.
 */
export const DEMO_PROVIDER = {
  payoutAddress: "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc",
  name: "ShareAI demo provider (built-in echo upstream)",
} as const;

export type DemoDecision =
  | { run: true; reason: "no provider configured" | "demo provider registered" }
  | { run: false; reason: string };

/**
 * The demo runs on a database with no provider at all (a fresh install), and
 * afterwards as long as its provider is registered and its model enabled: the
 * echo server lives only as long as the process, so each start re-points the
 * demo upstream at the new one. `shareai models disable shareai-demo/echo`
 * turns it off for good; so does any database whose providers are all real.
 */
export async function decideDemo(database: Database): Promise<DemoDecision> {
  const providers = await database.providers.list();
  if (providers.length === 0) return { run: true, reason: "no provider configured" };
  if (!demoProviderIn(providers)) return { run: false, reason: "providers are configured" };
  const model = await database.models.get(DEMO_MODEL.id);
  if (model && !model.enabled) return { run: false, reason: `the demo model ${DEMO_MODEL.id} is disabled` };
  return { run: true, reason: "demo provider registered" };
}

/**
 * Registers (or re-points) the demo provider, its model with the demo rates,
 * and its one upstream at `echoBaseUrl`. Idempotent: a restart replaces the
 * previous run's upstream, whose server is gone.
 */
export async function registerDemoProvider(database: Database, echoBaseUrl: string): Promise<void> {
  const existingModel = await database.models.get(DEMO_MODEL.id);
  // Rates an operator set with `shareai models set` are kept; a fresh database gets the demo rates.
  if (!existingModel) await database.models.upsert(DEMO_MODEL);
  const provider = demoProviderIn(await database.providers.list()) ?? {
    ...(await database.providers.create(DEMO_PROVIDER)),
    upstreams: [],
  };
  for (const upstream of provider.upstreams) await database.providers.removeUpstream(upstream.id);
  await database.providers.addUpstream({
    providerId: provider.id,
    baseUrl: echoBaseUrl,
    models: { [DEMO_MODEL.id]: DEMO_MODEL.id },
  });
}

function demoProviderIn(providers: ProviderDetails[]): ProviderDetails | undefined {
  return providers.find((provider) => provider.payoutAddress === DEMO_PROVIDER.payoutAddress);
}
