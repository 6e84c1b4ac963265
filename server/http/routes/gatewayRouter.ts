import Router from "@koa/router";
import type { Middleware } from "koa";
import type { ApiKeyAuthenticator } from "../../domain/auth/apiKeyAuthenticator";
import type { ChatCompletionDeps } from "../../domain/chat/chatCompletionDeps";
import { GatewayError } from "../../domain/errors/gatewayError";
import { unknownUrl } from "../../domain/errors/gatewayErrors";
import type { ModelCatalog, ReadinessCheck } from "../../domain/ports";
import { authenticate } from "../middleware/authenticate";
import { jsonBody } from "../middleware/jsonBody";
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

/** Every route the gateway serves. Middleware order per route is DESIGN.md's check order: key, then body. */
export function gatewayRouter(deps: GatewayRouterDeps): Router {
  const router = new Router();
  const requireKey = authenticate(deps.authenticator, { required: true });
  const optionalKey = authenticate(deps.authenticator, { required: false });

  router.get("/healthz", healthz);
  router.get("/readyz", readyz(deps.readiness, deps.isDraining));
  router.get("/metrics", metricsRoute(deps.metrics));

  router.get("/v1/models", optionalKey, listModels(deps.catalog));
  router.get("/v1/models/{*id}", optionalKey, retrieveModel(deps.catalog));
  router.post("/v1/chat/completions", requireKey, jsonBody(deps.maxBodyBytes), chatCompletionsRoute(deps.chat));

  router.all("/v1/responses", responsesNotServed);
  return router;
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
