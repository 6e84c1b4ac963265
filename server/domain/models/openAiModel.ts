import { baseUnitsToUsdc } from "../money/usdcDecimal";
import type { Model } from "../types";

/** A model as `GET /v1/models` shows it: OpenAI's object, plus what it costs and how long its context is. */
export interface OpenAiModel {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  context_length: number;
  max_output_tokens: number;
  pricing: {
    /** USDC base units per 1M tokens, as decimal strings: exact, and safe from JSON's floats. */
    prompt_per_mtok_base: string;
    completion_per_mtok_base: string;
    /** The same rates in USDC. */
    prompt_per_mtok_usdc: string;
    completion_per_mtok_usdc: string;
  };
}

/** Catalog objects are reused until the catalog cache refreshes, so the view is built once per refresh. */
const views = new WeakMap<Model, OpenAiModel>();

export function toOpenAiModel(model: Model): OpenAiModel {
  let view = views.get(model);
  if (!view) {
    view = {
      id: model.id,
      object: "model",
      created: model.created,
      owned_by: model.ownedBy,
      context_length: model.contextLength,
      max_output_tokens: model.maxOutputTokens,
      pricing: {
        prompt_per_mtok_base: model.promptRatePerMTok.toString(),
        completion_per_mtok_base: model.completionRatePerMTok.toString(),
        prompt_per_mtok_usdc: baseUnitsToUsdc(model.promptRatePerMTok),
        completion_per_mtok_usdc: baseUnitsToUsdc(model.completionRatePerMTok),
      },
    };
    views.set(model, view);
  }
  return view;
}
