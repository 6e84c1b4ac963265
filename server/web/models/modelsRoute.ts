import type { Middleware } from "koa";
import { TtlCache } from "../../domain/caching/ttlCache";
import { toOpenAiModel } from "../../domain/models/openAiModel";
import type { ModelProviderCount } from "../../persistence/usage";
import type { WebContext } from "../webContext";

/**
 * `GET /api/models`, public: the catalog with prices (per 1M tokens, in base
 * units and USDC, as /v1/models shows them) and how many providers serve each
 * model. A provider counts when it has an enabled upstream for the model;
 * health is probed by each gateway instance on its own and is not reflected
 * here. The counts are cached like the catalog (CATALOG_CACHE_TTL_MS), so this
 * unauthenticated route costs the database at most one query per TTL.
 */
export function modelsRoute(web: WebContext): Middleware {
  const counts = new TtlCache<"all", Map<string, ModelProviderCount>>(web.catalogCacheTtlMs, 1, web.now);
  return async (ctx) => {
    const [models, byModel] = await Promise.all([
      web.catalog.list(),
      counts.get("all", () => web.stores.providerCounts.byModel()),
    ]);
    ctx.body = {
      object: "list",
      data: models.map((model) => {
        const count = byModel.get(model.id);
        return {
          ...toOpenAiModel(model),
          providers_online: count?.providers ?? 0,
          upstreams_online: count?.upstreams ?? 0,
        };
      }),
    };
  };
}
