import type { UpstreamTarget } from "../../domain/ports";

/** Where and how to reach an upstream, derived once per target rather than per request. */
export interface UpstreamEndpoint {
  /** `http://host:port`: the key of its connection pool. */
  origin: string;
  chatCompletionsPath: string;
  modelsPath: string;
  jsonHeaders: Record<string, string>;
  streamHeaders: Record<string, string>;
  /** Headers of a health check (no body). */
  probeHeaders: Record<string, string>;
}

/** Targets come from a cache that hands out the same objects until it refreshes, so this is a hit per request. */
const endpoints = new WeakMap<UpstreamTarget, UpstreamEndpoint>();

export function endpointOf(target: UpstreamTarget): UpstreamEndpoint {
  let endpoint = endpoints.get(target);
  if (!endpoint) {
    endpoint = buildEndpoint(target);
    endpoints.set(target, endpoint);
  }
  return endpoint;
}

function buildEndpoint(target: UpstreamTarget): UpstreamEndpoint {
  const url = new URL(target.baseUrl);
  const basePath = url.pathname.replace(/\/+$/, "");
  const auth: Record<string, string> = target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {};
  return {
    origin: url.origin,
    chatCompletionsPath: `${basePath}/chat/completions${url.search}`,
    modelsPath: `${basePath}/models${url.search}`,
    jsonHeaders: { ...auth, "content-type": "application/json", accept: "application/json" },
    streamHeaders: { ...auth, "content-type": "application/json", accept: "text/event-stream" },
    probeHeaders: { ...auth, accept: "application/json" },
  };
}
