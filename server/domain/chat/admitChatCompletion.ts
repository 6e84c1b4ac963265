import { GatewayError } from "../errors/gatewayError";
import {
  holdRefused,
  modelNotAllowed,
  modelNotFound,
  noProviderAvailable,
  providerUpstreamNotConfigured,
  rateLimited,
  rateLimiterUnavailable,
} from "../errors/gatewayErrors";
import type { Hold, HoldRefusal, RateLimitHeaders, RateLimits, UpstreamTarget } from "../ports";
import { countPromptTokens } from "../tokens/countPromptTokens";
import type { ApiKey, Model } from "../types";
import type { ChatCompletionDeps } from "./chatCompletionDeps";
import type { ChatCompletionRequest } from "./chatCompletionRequest";
import { HeldRequest } from "./heldRequest";
import { chargedTokens, correctTokenCharge, rateLimitsOf } from "./rateLimitCorrection";
import { type TokenBudget, byteBoundTokenBudget, holdAmountMicros, tokenBudget } from "./tokenBudget";

/** A request that passed every check but the balance: what it may use, and where it may go. */
export interface ScreenedChatCompletion {
  requestId: string;
  key: ApiKey;
  model: Model;
  request: ChatCompletionRequest;
  budget: TokenBudget;
  candidates: UpstreamTarget[];
  /** `x-ratelimit-*` for the response; empty when the key has no limits. */
  rateLimitHeaders: RateLimitHeaders;
  /**
   * Whether its upstream request may start while the hold is being placed:
   * only when this instance knows the account has room for a thousand such
   * holds (the byte-bound sizing), so the hold is all but certain. Nothing
   * reaches the client before the hold is placed either way; a refused hold
   * cancels the upstream request it overlapped.
   */
  overlapHold: boolean;
  startedAtMs: number;
}

/** A request that holds its worst case on the balance: ready to be served and billed. */
export interface AdmittedChatCompletion extends ScreenedChatCompletion {
  held: HeldRequest;
}

/**
 * Decides whether a validated request may go upstream, in DESIGN.md's order:
 * model (404), the key's permissions (403), rate (429), providers (503); the
 * balance (402) is `holdChatCompletion`'s, the last step, so a refused request
 * never holds anything. A request refused after the rate limiter charged it
 * gets its tokens back.
 */
export async function screenChatCompletion(
  deps: ChatCompletionDeps,
  requestId: string,
  key: ApiKey,
  request: ChatCompletionRequest
): Promise<ScreenedChatCompletion> {
  const startedAtMs = deps.now();
  const model = await deps.models.get(request.model);
  if (!model) throw modelNotFound(request.model);
  if (key.allowedModels !== null && !key.allowedModels.includes(model.id)) throw modelNotAllowed(model.id);

  const budget = chooseTokenBudget(deps, key, request, model);
  const limits = rateLimitsOf(key);
  // A byte-bound budget only ever goes with a key without a tokens-per-minute limit: nothing to charge then.
  const tokens = key.tokensPerMinute === null ? 0 : chargedTokens(budget);
  const rateLimitHeaders = limits ? await checkRateLimits(deps, key, limits, tokens) : {};

  try {
    const candidates = await deps.router.candidatesFor(model.id);
    if (candidates.length === 0) {
      throw (await deps.upstreams.hasAnyUpstream()) ? noProviderAvailable(model.id) : providerUpstreamNotConfigured();
    }
    const overlapHold = budget.promptSizing === "byte_bound";
    return { requestId, key, model, request, budget, candidates, rateLimitHeaders, overlapHold, startedAtMs };
  } catch (error) {
    throw refusedAfterCharge(deps, key, budget, rateLimitHeaders, error);
  }
}

/** Places the screened request's hold in the ledger, atomically: 402 (or a spend cap's 403) when it does not fit. */
export async function holdChatCompletion(
  deps: ChatCompletionDeps,
  screened: ScreenedChatCompletion
): Promise<AdmittedChatCompletion> {
  const { requestId, key, model, request } = screened;
  let budget = screened.budget;
  try {
    let reservation = await reserve(deps, requestId, key, model, budget);
    if (!reservation.ok && budget.promptSizing === "byte_bound") {
      // Refused with the cheap, larger hold: decide again with the tokenizer's, as the request deserves.
      const counted = tokenBudget(request, model, budget.promptTokens);
      if (holdAmountMicros(counted, model) < holdAmountMicros(budget, model)) {
        budget = counted;
        reservation = await reserve(deps, requestId, key, model, budget);
      }
    }
    if (!reservation.ok) throw holdRefused(reservation.refusal);
    const held = new HeldRequest(reservation.hold, deps.ledger, deps.observer, deps.logger, deps.holdTtlMs);
    return { ...screened, budget, held };
  } catch (error) {
    throw refusedAfterCharge(deps, key, budget, screened.rateLimitHeaders, error);
  }
}

/** A request refused after the rate limiter counted it: its tokens go back, its error carries the limit headers. */
function refusedAfterCharge(
  deps: ChatCompletionDeps,
  key: ApiKey,
  budget: TokenBudget,
  rateLimitHeaders: RateLimitHeaders,
  error: unknown
): unknown {
  correctTokenCharge(deps, key, budget, 0);
  if (error instanceof GatewayError) error.withHeaders(rateLimitHeaders);
  return error;
}

/**
 * Sizes the request's hold: by the prompt's byte length (no tokenizer run)
 * when the account is known to have plenty of room for it, else by our
 * tokenizer. A key with a tokens-per-minute limit is always counted: the
 * limiter must be charged the prompt's tokens, not its bytes.
 */
function chooseTokenBudget(deps: ChatCompletionDeps, key: ApiKey, request: ChatCompletionRequest, model: Model): TokenBudget {
  if (key.tokensPerMinute === null) {
    const bounded = byteBoundTokenBudget(request, model);
    if (deps.spendableHints.hasRoomFor(key.account, holdAmountMicros(bounded, model))) return bounded;
  }
  return tokenBudget(request, model, countPromptTokens(request));
}

async function reserve(
  deps: ChatCompletionDeps,
  requestId: string,
  key: ApiKey,
  model: Model,
  budget: TokenBudget
): Promise<{ ok: true; hold: Hold } | { ok: false; refusal: HoldRefusal }> {
  const reservation = await deps.ledger.reserve({
    requestId,
    account: key.account,
    keyId: key.id,
    modelId: model.id,
    amountMicros: holdAmountMicros(budget, model),
    ttlMs: deps.holdTtlMs,
  });
  if (reservation.ok && reservation.hold.spendableAfterMicros !== undefined) {
    deps.spendableHints.record(key.account, reservation.hold.spendableAfterMicros);
  } else if (!reservation.ok && reservation.refusal.reason === "insufficient_balance") {
    deps.spendableHints.record(key.account, reservation.refusal.spendableMicros);
  }
  return reservation;
}

async function checkRateLimits(
  deps: ChatCompletionDeps,
  key: ApiKey,
  limits: RateLimits,
  tokens: number
): Promise<RateLimitHeaders> {
  let decision;
  try {
    decision = await deps.rateLimiter.check(key.id, limits, { requests: 1, tokens });
  } catch (error) {
    // The limiter throws only when its store is down and it is configured to fail closed.
    deps.logger.warn({ err: error, keyId: key.id }, "rate limiter unavailable");
    throw rateLimiterUnavailable();
  }
  if (!decision.allowed) throw rateLimited(decision);
  return decision.headers;
}
