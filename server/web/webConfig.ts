import { z } from "zod";
import { ConfigError, CONFIG_VARIABLES } from "../config";

/** The web API's settings: its own variables of `server/config/configVariables.ts`. */
export interface WebConfig {
  /** EIP-155 chain id that sign-in messages must name. */
  chainId: number;
  sessionTtlMs: number;
  nonceTtlMs: number;
  /** Sign-in requests one client address may make per minute. */
  signInAttemptsPerMinute: number;
  /** Whether the Provider page may register upstreams on loopback/private/link-local addresses. */
  providerUpstreamAllowPrivate: boolean;
}

const webEnvSchema = z.object({
  CHAIN_ID: CONFIG_VARIABLES.CHAIN_ID.schema as z.ZodType<number>,
  SESSION_TTL_MS: CONFIG_VARIABLES.SESSION_TTL_MS.schema as z.ZodType<number>,
  SIWE_NONCE_TTL_MS: CONFIG_VARIABLES.SIWE_NONCE_TTL_MS.schema as z.ZodType<number>,
  SIGN_IN_ATTEMPTS_PER_MINUTE: CONFIG_VARIABLES.SIGN_IN_ATTEMPTS_PER_MINUTE.schema as z.ZodType<number>,
  PROVIDER_UPSTREAM_ALLOW_PRIVATE: CONFIG_VARIABLES.PROVIDER_UPSTREAM_ALLOW_PRIVATE.schema as z.ZodType<boolean>,
});

/**
 * Reads the web API's variables with the same schemas `loadConfig` validates
 * them with (so a bad value already stops the gateway at start-up).
 */
export function loadWebConfig(env: NodeJS.ProcessEnv = process.env): WebConfig {
  const raw = (name: string) => {
    const value = env[name]?.trim();
    return value === "" ? undefined : value;
  };
  const parsed = webEnvSchema.safeParse({
    CHAIN_ID: raw("CHAIN_ID"),
    SESSION_TTL_MS: raw("SESSION_TTL_MS"),
    SIWE_NONCE_TTL_MS: raw("SIWE_NONCE_TTL_MS"),
    SIGN_IN_ATTEMPTS_PER_MINUTE: raw("SIGN_IN_ATTEMPTS_PER_MINUTE"),
    PROVIDER_UPSTREAM_ALLOW_PRIVATE: raw("PROVIDER_UPSTREAM_ALLOW_PRIVATE"),
  });
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${String(issue.path[0])} ${issue.message}`));
  }
  return {
    chainId: parsed.data.CHAIN_ID,
    sessionTtlMs: parsed.data.SESSION_TTL_MS,
    nonceTtlMs: parsed.data.SIWE_NONCE_TTL_MS,
    signInAttemptsPerMinute: parsed.data.SIGN_IN_ATTEMPTS_PER_MINUTE,
    providerUpstreamAllowPrivate: parsed.data.PROVIDER_UPSTREAM_ALLOW_PRIVATE,
  };
}
