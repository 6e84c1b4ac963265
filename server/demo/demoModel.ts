import type { Model } from "../domain/types";

/**
 * The one model of the built-in demo upstream. Its name says what it is: an
 * echo, not a language model (no weights can be downloaded here). The rates
 * are demo rates, in USDC base units per million tokens: $0.25 prompt, $1
 * completion.
 */
export const DEMO_MODEL: Model = {
  id: "shareai-demo/echo",
  ownedBy: "shareai-demo",
  // 2026-01-01T00:00:00Z: a fixed date, so the model object is the same on every start.
  created: 1_767_225_600,
  contextLength: 8192,
  maxOutputTokens: 1024,
  promptRatePerMTok: 250_000n,
  completionRatePerMTok: 1_000_000n,
};
