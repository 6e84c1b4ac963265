import type { HoldRefusal, RateLimitDecision } from "../ports";
import { microsToUsdc } from "../money/usdcDecimal";
import { GatewayError } from "./gatewayError";

/**
 * Every error the gateway answers with, one constructor per code of
 * DESIGN.md's table (plus the few the table leaves implicit: 413, unknown URL,
 * upstream failures). Messages never repeat a secret.
 */

export const missingApiKey = () =>
  new GatewayError(
    401,
    "missing_api_key",
    "You didn't provide an API key. Send it in the Authorization header as `Bearer sk-shareai-…`."
  );

export const invalidApiKey = () =>
  new GatewayError(401, "invalid_api_key", "Incorrect API key provided, or the key was revoked.");

export const invalidRequest = (message: string, param: string | null = null) =>
  new GatewayError(400, "invalid_request_error", message, param);

export const requestTooLarge = (limitBytes: number) =>
  new GatewayError(413, "request_too_large", `The request body is larger than the ${limitBytes} bytes accepted.`);

export const unknownUrl = (method: string, path: string) =>
  new GatewayError(404, "unknown_url", `Invalid URL (${method} ${path.slice(0, 200)}).`);

export const modelNotFound = (modelId: string) =>
  new GatewayError(
    404,
    "model_not_found",
    `The model '${modelId.slice(0, 200)}' does not exist on the network.`,
    "model"
  );

export const modelNotAllowed = (modelId: string) =>
  new GatewayError(403, "model_not_allowed", `This API key is not permitted to use the model '${modelId}'.`, "model");

export function rateLimited(decision: Extract<RateLimitDecision, { allowed: false }>): GatewayError {
  const unit = decision.limit === "requests" ? "requests per minute (RPM)" : "tokens per minute (TPM)";
  const advice = decision.retryable
    ? `Please try again in ${decision.retryAfterSeconds}s.`
    : "This request alone is larger than the limit, so retrying will not help.";
  const error = new GatewayError(
    429,
    "rate_limit_exceeded",
    `Rate limit reached on ${unit}: limit ${decision.limitPerMinute}, requested ${decision.requested}. ${advice}`,
    null,
    decision.limit
  ).withHeaders(decision.headers);
  if (!decision.retryable) error.withHeaders({ "x-should-retry": "false" });
  return error;
}

export function holdRefused(refusal: HoldRefusal): GatewayError {
  const needed = microsToUsdc(refusal.neededMicros);
  if (refusal.reason === "insufficient_balance") {
    return new GatewayError(
      402,
      "insufficient_balance",
      `Not enough USDC balance to cover this request: it may cost up to ${needed} USDC and ${microsToUsdc(
        refusal.spendableMicros
      )} USDC is spendable. Deposit more, or lower max_tokens.`
    );
  }
  const which = refusal.reason === "daily_spend_cap" ? "daily" : "total";
  return new GatewayError(
    402,
    "spend_cap_exceeded",
    `This API key's ${which} spend cap does not cover this request: it may cost up to ${needed} USDC and ${microsToUsdc(
      refusal.remainingMicros
    )} USDC of the cap is left.`
  );
}

export const noProviderAvailable = (modelId: string) =>
  new GatewayError(503, "no_provider_available", `No online provider can serve the model '${modelId}' right now.`);

/** Retrying cannot help until an operator adds a provider, so the SDK is told not to. */
export const providerUpstreamNotConfigured = () =>
  new GatewayError(
    503,
    "provider_upstream_not_configured",
    "This deployment has no upstream provider configured yet."
  ).withHeaders({
    "x-should-retry": "false",
  });

export const upstreamFailed = (modelId: string, attempts: number, reason: string) =>
  new GatewayError(
    502,
    "upstream_error",
    `No provider of '${modelId}' could complete the request (${attempts} tried; last: ${reason}).`
  );

export const upstreamTimedOut = (modelId: string, attempts: number, reason: string) =>
  new GatewayError(
    504,
    "upstream_timeout",
    `No provider of '${modelId}' answered in time (${attempts} tried; last: ${reason}).`
  );

/** The upstream judged the request invalid (400/413/422): the client's to fix, so it goes back as a 400 with the upstream's words. */
export const upstreamRejectedRequest = (message: string, param: string | null) =>
  new GatewayError(400, "invalid_request_error", message, param);

export const rateLimiterUnavailable = () =>
  new GatewayError(503, "rate_limiter_unavailable", "Rate limits cannot be checked right now; please retry shortly.");

export const internalError = () =>
  new GatewayError(500, "internal_error", "The gateway failed to process the request.");

const STREAM_FAILURE_CODES = {
  truncated: "upstream_stream_truncated",
  timeout: "upstream_timeout",
  connection: "upstream_error",
  malformed: "upstream_error",
  upstream_error: "upstream_error",
} as const;

/** The error event that ends a stream whose upstream broke after the first byte. */
export const streamBroken = (kind: keyof typeof STREAM_FAILURE_CODES, message: string) =>
  new GatewayError(
    502,
    STREAM_FAILURE_CODES[kind],
    `${message} The response is incomplete; the tokens delivered were billed.`
  );
