import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { UpstreamHealthRecord } from "../../providers/health/upstreamHealthLog";

/**
 * An upstream's last health check as the Provider page shows it: stored with the upstream, written
 * by every gateway's periodic check and by the page's live checks, so it survives restarts.
 */
export interface LastUpstreamCheck {
  ok: boolean;
  checked_at: string;
  /** HTTP status, null when no answer came. */
  status: number | null;
  latency_ms: number;
  /** Why it is not ok, in plain words; null when ok. */
  error: string | null;
}

/** The result of one live `GET {baseUrl}/models`, with what only a live check knows: the models listed. */
export interface UpstreamHealth extends LastUpstreamCheck {
  /** Model ids the upstream listed (at most 50). */
  models_listed: string[];
  /** Upstream model names this upstream should serve that it did not list. */
  missing_models: string[];
}

/** A live check as it is stored. */
export function healthRecordOf(health: UpstreamHealth): UpstreamHealthRecord {
  return {
    up: health.ok,
    checkedAt: new Date(health.checked_at),
    latencyMs: health.latency_ms,
    httpStatus: health.status,
    error: health.error,
  };
}

export function lastCheckView(record: UpstreamHealthRecord): LastUpstreamCheck {
  return {
    ok: record.up,
    checked_at: record.checkedAt.toISOString(),
    status: record.httpStatus,
    latency_ms: record.latencyMs,
    error: record.error,
  };
}

export const HEALTH_CHECK_TIMEOUT_MS = 5_000;

/**
 * Asks the upstream for its model list, with a short timeout and no redirects (a redirect could
 * point the gateway anywhere). `ok` when it answers 2xx with OpenAI's list shape and lists every
 * upstream model name asked for (an upstream that lists nothing is not held against it).
 */
export async function checkUpstream(
  baseUrl: string,
  apiKey: string | null,
  upstreamModels: string[],
  timeoutMs = HEALTH_CHECK_TIMEOUT_MS,
): Promise<UpstreamHealth> {
  const started = Date.now();
  const result = (fields: Partial<UpstreamHealth>): UpstreamHealth => ({
    ok: false,
    checked_at: new Date().toISOString(),
    status: null,
    latency_ms: Date.now() - started,
    models_listed: [],
    missing_models: [],
    error: null,
    ...fields,
  });
  let response: Response;
  try {
    response = await fetch(`${baseUrl}/models`, {
      headers: { accept: "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const timedOut = (error as Error)?.name === "TimeoutError";
    const cause = ((error as { cause?: { code?: string; message?: string } })?.cause ?? {}) as { code?: string; message?: string };
    return result({
      error: timedOut
        ? `No answer within ${timeoutMs / 1000} s.`
        : `Could not connect: ${cause.code ?? cause.message ?? (error as Error).message}.`,
    });
  }
  const text = await response.text().catch(() => "");
  if (!response.ok) {
    const hint = response.status === 401 || response.status === 403 ? " (is the API key right?)" : "";
    return result({ status: response.status, error: `GET /models answered HTTP ${response.status}${hint}.` });
  }
  let ids: string[];
  try {
    const body = JSON.parse(text) as { data?: Array<{ id?: unknown }> };
    if (!Array.isArray(body.data)) throw new Error("no data");
    ids = body.data.map((model) => String(model.id));
  } catch {
    return result({ status: response.status, error: "GET /models did not answer OpenAI's model list (JSON with `data`)." });
  }
  const missing = ids.length === 0 ? [] : upstreamModels.filter((name) => !ids.includes(name));
  return result({
    ok: missing.length === 0,
    status: response.status,
    models_listed: ids.slice(0, 50),
    missing_models: missing,
    error: missing.length ? `The upstream does not list: ${missing.join(", ")}.` : null,
  });
}

/**
 * Whether `hostname` is, or resolves to, a loopback, private, link-local or otherwise internal
 * address: the gateway calls an upstream's URL itself, so a provider could point it at the
 * gateway's own network (SSRF). Refused unless PROVIDER_UPSTREAM_ALLOW_PRIVATE allows it.
 */
export async function resolvesToPrivateAddress(hostname: string): Promise<boolean> {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const addresses = isIP(host) ? [host] : (await lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  return addresses.some(isPrivateIp);
}

export function isPrivateIp(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a, b] = ip.split(".").map(Number);
    return (
      a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b <= 127) || (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || a >= 224
    );
  }
  const lower = ip.toLowerCase();
  if (lower.startsWith("::ffff:")) return isPrivateIp(lower.slice(7));
  return lower === "::" || lower === "::1" || lower.startsWith("fc") || lower.startsWith("fd") || lower.startsWith("fe80");
}
