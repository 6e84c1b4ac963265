import type { DeployEscrowOptions } from "./deployEscrow";

/**
 * Reads the deploy settings from the environment (see docs/deploy.md). An empty variable counts as
 * unset. Addresses are checked by deployEscrow, which also knows which ones the chain requires.
 */
export function deployOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): DeployEscrowOptions {
  const value = (name: string) => {
    const raw = env[name]?.trim();
    return raw ? raw : undefined;
  };
  const wholeNumber = (name: string): bigint | undefined => {
    const raw = value(name);
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number, got "${raw}"`);
    return BigInt(raw);
  };
  const thawingPeriodSeconds = wholeNumber("THAWING_PERIOD_SECONDS");
  if (thawingPeriodSeconds !== undefined && thawingPeriodSeconds > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error(`THAWING_PERIOD_SECONDS is implausibly large: ${thawingPeriodSeconds}`);
  }
  const feeBps = wholeNumber("FEE_BPS");
  if (feeBps !== undefined && feeBps > 10_000n) throw new Error(`FEE_BPS must be at most 10000, got ${feeBps}`);
  const redeploy = value("REDEPLOY");
  return {
    usdcAddress: value("USDC_ADDRESS"),
    owner: value("ESCROW_OWNER"),
    treasury: value("TREASURY_ADDRESS"),
    settlementSigner: value("SETTLEMENT_SIGNER_ADDRESS"),
    thawingPeriodSeconds,
    feeBps: feeBps === undefined ? undefined : Number(feeBps),
    deploymentsDir: value("DEPLOYMENTS_DIR"),
    redeploy: redeploy !== undefined && !["0", "false", "no"].includes(redeploy.toLowerCase()),
  };
}
