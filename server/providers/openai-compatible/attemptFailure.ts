/** Why one attempt at one upstream failed, for the failover decision, the breaker, logs and metrics. */
export interface AttemptFailure {
  kind: "connect" | "timeout" | "status" | "connection" | "protocol";
  /** The upstream's HTTP status, for kind "status". */
  status: number | null;
  /** For logs and the final error message; never includes credentials. */
  reason: string;
  /** Whether the failure says something about the upstream's health (its circuit breaker counts it). */
  countsAgainstUpstream: boolean;
}

/** A response that was not what an OpenAI-compatible server sends (not JSON, not an event stream). */
export class UpstreamProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UpstreamProtocolError";
  }
}

const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "UND_ERR_CONNECT",
]);

/**
 * Classifies an exception thrown while talking to an upstream. `firstByteTimedOut`
 * is set when our own first-event timer dropped a stream's body, which undici
 * reports as a plain abort.
 */
export function failureFromError(error: unknown, firstByteTimedOut: boolean, firstByteMs: number): AttemptFailure {
  if (firstByteTimedOut) return timeout(`no first byte within ${firstByteMs} ms`);
  if (error instanceof UpstreamProtocolError) {
    return { kind: "protocol", status: null, reason: error.message, countsAgainstUpstream: true };
  }
  const code = errorCode(error);
  switch (code) {
    case "UND_ERR_CONNECT_TIMEOUT":
      return timeout("connect timeout");
    case "UND_ERR_HEADERS_TIMEOUT":
      return timeout(`no first byte within ${firstByteMs} ms`);
    case "UND_ERR_BODY_TIMEOUT":
      return timeout("the response body stalled past the idle timeout");
    default:
      if (code && CONNECT_CODES.has(code)) {
        return { kind: "connect", status: null, reason: `cannot connect (${code})`, countsAgainstUpstream: true };
      }
      return {
        kind: "connection",
        status: null,
        reason: `connection failed (${code ?? (error instanceof Error ? error.name : "unknown")})`,
        countsAgainstUpstream: true,
      };
  }
}

function timeout(reason: string): AttemptFailure {
  return { kind: "timeout", status: null, reason, countsAgainstUpstream: true };
}

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown; cause?: { code?: unknown } } | null)?.code;
  if (typeof code === "string") return code;
  const causeCode = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof causeCode === "string" ? causeCode : undefined;
}

/** An upstream's refusal that is the request's fault: the client gets it back as a 400. */
export interface ClientFaultRejection {
  message: string;
  param: string | null;
}

/**
 * What a non-200 status means for us. 400/413/422 judge the request itself, so
 * every upstream would say the same: the client's mistake, passed back.
 * 401/403/404 mean our configuration of that upstream is wrong (its key, its
 * model name): never the client's key, so we fail over. 408/429 say the
 * upstream is busy, not broken: fail over without counting against it.
 */
export function judgeStatus(
  status: number,
  errorBody: string
): { clientFault: ClientFaultRejection } | { failure: AttemptFailure } {
  if (status === 400 || status === 413 || status === 422)
    return { clientFault: upstreamErrorMessage(errorBody, status) };
  const busy = status === 408 || status === 429;
  const ours = status === 401 || status === 403 || status === 404;
  const reason = ours
    ? `the provider refused our configuration (HTTP ${status})`
    : `the provider answered HTTP ${status}`;
  return { failure: { kind: "status", status, reason, countsAgainstUpstream: !busy } };
}

/** OpenAI's `{error:{message,param}}`, vLLM's `{message}`, FastAPI's `{detail}`, or the text itself. */
function upstreamErrorMessage(body: string, status: number): ClientFaultRejection {
  try {
    const parsed = JSON.parse(body) as Record<string, unknown>;
    const error = parsed.error as Record<string, unknown> | string | undefined;
    const message =
      (typeof error === "object" && error !== null && typeof error.message === "string" && error.message) ||
      (typeof error === "string" && error) ||
      (typeof parsed.message === "string" && parsed.message) ||
      (typeof parsed.detail === "string" && parsed.detail);
    if (message) {
      const param = typeof error === "object" && error !== null && typeof error.param === "string" ? error.param : null;
      return { message: message.slice(0, 2000), param };
    }
  } catch {
    // not JSON: use the text
  }
  const text = body.trim().slice(0, 2000);
  return { message: text || `The provider rejected the request (HTTP ${status}).`, param: null };
}
