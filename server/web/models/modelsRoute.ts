import type { Middleware } from "koa";
import { TtlCache } from "../../domain/caching/ttlCache";
import { toOpenAiModel } from "../../domain/models/openAiModel";
import type { ModelProviderCount } from "../../persistence/usage";
import type { WebContext } from "../webContext";

/**
 * `GET /api/models`, public: the catalog with prices (per 1M tokens, in base
 * units and USDC, as /v1/models shows them) and how many providers are online
 * for each: with an enabled upstream for the model that the last stored health
 * check found up, within `ONLINE_CHECK_INTERVALS` health-check intervals. The
 * counts are cached like the catalog (CATALOG_CACHE_TTL_MS), so this
 * unauthenticated route costs the database at most one query per TTL.
 */
const ONLINE_CHECK_INTERVALS = 3;
export function modelsRoute(web: WebContext): Middleware {
  const counts = new TtlCache<"all", Map<string, ModelProviderCount>>(web.catalogCacheTtlMs, 1, web.now);
  return async (ctx) => {
    const [models, byModel] = await Promise.all([
      web.catalog.list(),
      counts.get("all", () => web.stores.providerCounts.byModel(new Date(web.now() - onlineWindowMs(web)))),
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

/** How recent a health check must be to count: a few intervals, plus the time a check may take. */
function onlineWindowMs(web: WebContext): number {
  return ONLINE_CHECK_INTERVALS * web.healthCheck.intervalMs + web.healthCheck.timeoutMs;
}
