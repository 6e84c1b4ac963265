import type { GatewayConfig } from "../config";

/**
 * Where browsers reach the gateway. Sign-in messages must name its host as
 * their domain, state-changing calls must come from its origin, and cookies
 * are Secure when it is https.
 */
export interface PublicSite {
  /** `https://shareai.example` (no path, no trailing slash). */
  origin: string;
  /** The RFC 3986 authority: host and, unless it is the default, port (`127.0.0.1:8080`). */
  host: string;
  /** `http` or `https`. */
  scheme: string;
  /** Whether cookies carry `Secure` (and the `__Host-` prefix). */
  secure: boolean;
  /** The OpenAI base URL clients paste into the SDK: `…/v1`. */
  apiBaseUrl: string;
}

/**
 * From the explicit URL, else PUBLIC_BASE_URL, else `http://HOST:PORT`. A
 * gateway on port 0 has no address before it listens, so it needs one of the
 * first two.
 */
export function resolvePublicSite(
  config: Pick<GatewayConfig, "publicBaseUrl" | "host" | "port">,
  explicitBaseUrl?: string | null
): PublicSite {
  const base = explicitBaseUrl ?? config.publicBaseUrl ?? listeningUrl(config);
  const url = new URL(base);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`the public base URL must be http(s): ${base}`);
  }
  const path = url.pathname.replace(/\/+$/, "");
  return {
    origin: url.origin,
    host: url.host,
    scheme: url.protocol.slice(0, -1),
    secure: url.protocol === "https:",
    apiBaseUrl: `${url.origin}${path}/v1`,
  };
}

function listeningUrl(config: Pick<GatewayConfig, "host" | "port">): string {
  if (config.port === 0) {
    throw new Error(
      "The web API needs PUBLIC_BASE_URL (the address browsers use) when PORT is 0: sign-in messages and CSRF checks name it."
    );
  }
  const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.port}`;
}
