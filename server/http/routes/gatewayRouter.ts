import Router from "@koa/router";
import type { Context, Middleware } from "koa";
import type { ApiKeyAuthenticator } from "../../domain/auth/apiKeyAuthenticator";
import type { ChatCompletionDeps } from "../../domain/chat/chatCompletionDeps";
import { GatewayError } from "../../domain/errors/gatewayError";
import { unknownUrl } from "../../domain/errors/gatewayErrors";
import type { ModelCatalog, ReadinessCheck } from "../../domain/ports";
import { authenticate, keyCheck } from "../middleware/authenticate";
import { jsonBodyReader } from "../middleware/jsonBody";
import type { GatewayMetrics } from "../observability/gatewayMetrics";
import { chatCompletionsRoute } from "./chatCompletionsRoute";
import { healthz, metricsRoute, readyz } from "./healthRoutes";
import { listModels, retrieveModel } from "./modelRoutes";

export interface GatewayRouterDeps {
  chat: ChatCompletionDeps;
  catalog: ModelCatalog;
  authenticator: ApiKeyAuthenticator;
  readiness: ReadinessCheck;
  metrics: GatewayMetrics;
  maxBodyBytes: number;
  isDraining: () => boolean;
}

export interface GatewayRoutes {
  router: Router;
  /**
   * `POST /v1/chat/completions` spelled exactly so, before any router: the one
   * route under load skips route matching and the middleware chain. Other
   * spellings (a trailing slash, capitals) still reach it through the router.
   */
  chatCompletionsFastPath: Middleware;
}

const CHAT_COMPLETIONS = "/v1/chat/completions";

/** Every route the gateway serves. The order of checks per route is DESIGN.md's: key, then body. */
export function gatewayRouter(deps: GatewayRouterDeps): GatewayRoutes {
  const router = new Router();
  const requireKey = authenticate(deps.authenticator, { required: true });
  const optionalKey = authenticate(deps.authenticator, { required: false });

  router.get("/healthz", healthz);
  router.get("/readyz", readyz(deps.readiness, deps.isDraining));
  router.get("/metrics", metricsRoute(deps.metrics));

  router.get("/v1/models", optionalKey, listModels(deps.catalog));
  router.get("/v1/models/{*id}", optionalKey, retrieveModel(deps.catalog));
  const chatCompletions = chatCompletionsHandler(deps);
  router.post(CHAT_COMPLETIONS, chatCompletions);

  router.all("/v1/responses", responsesNotServed);
  return {
    router,
    chatCompletionsFastPath: (ctx, next) => {
      if (ctx.method !== "POST" || ctx.path !== CHAT_COMPLETIONS) return next();
      // The route label the router would have set, for metrics and the request log.
      (ctx as { _matchedRoute?: string })._matchedRoute = CHAT_COMPLETIONS;
      return chatCompletions(ctx, next);
    },
  };
}

/** Key, body, then the route, as plain calls in one handler (no middleware hops). */
function chatCompletionsHandler(deps: GatewayRouterDeps): Middleware {
  const requireKey = keyCheck(deps.authenticator, { required: true });
  const readBody = jsonBodyReader(deps.maxBodyBytes);
  const route = chatCompletionsRoute(deps.chat);
  return async (ctx: Context) => {
    await requireKey(ctx);
    await readBody(ctx);
    await route(ctx);
  };
}

/** The AI SDK's default `createOpenAI()(model)` calls the Responses API: say what to use instead. */
const responsesNotServed: Middleware = () => {
  throw new GatewayError(
    404,
    "unknown_url",
    "The Responses API (/v1/responses) is not served yet; use Chat Completions (/v1/chat/completions). With the AI SDK, call `.chat(model)`."
  );
};

/** After the router: nothing matched, so the URL (or its method) is unknown. */
export const unknownRoute: Middleware = (ctx) => {
  throw unknownUrl(ctx.method, ctx.path);
};
