import { expect } from "chai";
import type Router from "@koa/router";
import { loadConfig } from "../../../server/config";
import { ApiKeyAuthenticator } from "../../../server/domain/auth/apiKeyAuthenticator";
import { pgPoolOf } from "../../../server/persistence/pgPool";
import { MemoryRateLimiter } from "../../../server/domain/rateLimit/memoryRateLimiter";
import { createWebApi, loadWebConfig, postgresWebStores } from "../../../server/web";
import { receiptRoutes } from "../../../server/web/receipts/receiptRoutes";
import type { WebRouteKit } from "../../../server/web/webApi";
import { startWebHarness, type WebHarness } from "./support/webHarness";

const METHODS = ["get", "post", "put", "patch", "delete"];

/** `/api/keys/:id` → `/api/keys/{id}`. */
function openApiPath(routerPath: string): string {
  return routerPath.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

function routesOf(router: Router): Array<{ path: string; method: string }> {
  return router.stack.flatMap((layer) =>
    layer.methods
      .map((method) => method.toLowerCase())
      .filter((method) => METHODS.includes(method))
      .map((method) => ({ path: openApiPath(String(layer.path)), method }))
  );
}

describe("web API: OpenAPI document", () => {
  let harness: WebHarness;
  let document: any;

  before(async () => {
    harness = await startWebHarness();
    const response = await harness.browser().get("/api/openapi.json");
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.match(/^application\/json/);
    document = response.body;
  });

  after(async () => {
    await harness.close();
  });

  function buildRouter(extraRoutes?: (router: Router, kit: WebRouteKit) => void): Router {
    const env = { PORT: "8080", PUBLIC_BASE_URL: harness.origin };
    return createWebApi({
      web: { stores: postgresWebStores(harness.db), config: loadWebConfig(env), extraRoutes },
      gatewayConfig: loadConfig(env),
      catalog: harness.db.modelCatalog,
      authenticator: new ApiKeyAuthenticator(harness.db.apiKeyStore, { ttlMs: 0 }),
      rateLimiter: new MemoryRateLimiter(),
      now: Date.now,
    });
  }

  it("is OpenAPI 3.1 for this site", () => {
    expect(document.openapi).to.equal("3.1.0");
    expect(document.servers).to.deep.equal([{ url: harness.origin }]);
    expect(document.info.title).to.be.a("string");
  });

  it("describes every route the router serves", () => {
    const routes = routesOf(buildRouter());
    expect(routes.length).to.be.greaterThan(10);
    for (const { path, method } of routes) {
      expect(document.paths[path]?.[method], `${method.toUpperCase()} ${path}`).to.be.an("object");
    }
  });

  it("describes the routes the settlement module adds (receipts, provider vouchers), and sketches /v1", () => {
    const routes = routesOf(buildRouter(receiptRoutes({ pool: () => pgPoolOf(harness.db.dataSource) })));
    expect(routes).to.deep.include({ path: "/api/usage/{requestId}/receipt", method: "get" });
    expect(routes).to.deep.include({ path: "/api/providers/{address}/vouchers", method: "get" });
    for (const { path, method } of routes) expect(document.paths[path]?.[method]).to.be.an("object");
    expect(document.paths["/v1/chat/completions"].post).to.be.an("object");
  });

  it("documents only routes that exist, apart from /v1", () => {
    const router = buildRouter(receiptRoutes({ pool: () => pgPoolOf(harness.db.dataSource) }));
    const served = new Set(routesOf(router).map((r) => `${r.method} ${r.path}`));
    for (const [path, item] of Object.entries<Record<string, unknown>>(document.paths)) {
      if (path.startsWith("/v1/")) continue;
      for (const method of Object.keys(item).filter((key) => METHODS.includes(key))) {
        expect(served.has(`${method} ${path}`), `${method.toUpperCase()} ${path}`).to.equal(true);
      }
    }
  });

  it("resolves every $ref", () => {
    const refs: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          if (key === "$ref" && typeof value === "string") refs.push(value);
          else walk(value);
        }
      }
    };
    walk(document);
    expect(refs.length).to.be.greaterThan(10);
    for (const ref of refs) {
      const name = ref.replace("#/components/schemas/", "");
      expect(document.components.schemas[name], ref).to.be.an("object");
    }
  });
});
