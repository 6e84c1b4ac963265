import type { Middleware } from "koa";
import { modelNotAllowed, modelNotFound } from "../../domain/errors/gatewayErrors";
import { toOpenAiModel } from "../../domain/models/openAiModel";
import type { ModelCatalog } from "../../domain/ports";
import type { ApiKey } from "../../domain/types";

/** `GET /v1/models`: every model; with a key, only those it may use. */
export function listModels(catalog: ModelCatalog): Middleware {
  return async (ctx) => {
    const key = ctx.state.apiKey as ApiKey | undefined;
    const allowed = key?.allowedModels ?? null;
    const models = await catalog.list();
    const visible = allowed === null ? models : models.filter((m) => allowed.includes(m.id));
    ctx.body = { object: "list", data: visible.map(toOpenAiModel) };
  };
}

/** `GET /v1/models/{id}` (ids may contain slashes: `meta-llama/Llama-3.1-8B-Instruct`). */
export function retrieveModel(catalog: ModelCatalog): Middleware {
  return async (ctx) => {
    const id = String(ctx.params.id ?? "");
    const model = id ? await catalog.get(id) : null;
    if (!model) throw modelNotFound(id);
    const key = ctx.state.apiKey as ApiKey | undefined;
    if (key?.allowedModels && !key.allowedModels.includes(model.id)) throw modelNotAllowed(model.id);
    ctx.body = toOpenAiModel(model);
  };
}
