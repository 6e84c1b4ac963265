import type { Middleware } from "koa";
import type { ReadinessCheck } from "../../domain/ports";
import type { GatewayMetrics } from "../observability/gatewayMetrics";

const READINESS_TIMEOUT_MS = 2000;

/** `GET /healthz`: the process is up and serving HTTP (liveness; no dependency is checked). */
export const healthz: Middleware = (ctx) => {
  ctx.body = { status: "ok" };
};

/**
 * `GET /readyz`: the dependencies answer, so a load balancer may send traffic.
 * 503 while they do not, and from the moment the instance starts shutting
 * down, so that traffic drains away before connections close.
 */
export function readyz(readiness: ReadinessCheck, isDraining: () => boolean): Middleware {
  return async (ctx) => {
    if (isDraining()) {
      ctx.status = 503;
      ctx.body = { status: "draining" };
      return;
    }
    try {
      await withTimeout(readiness.check(), READINESS_TIMEOUT_MS);
      ctx.body = { status: "ready" };
    } catch (error) {
      ctx.status = 503;
      ctx.body = { status: "unavailable", reason: error instanceof Error ? error.message : String(error) };
    }
  };
}

/** `GET /metrics`: Prometheus text format. */
export function metricsRoute(metrics: GatewayMetrics): Middleware {
  return async (ctx) => {
    ctx.type = metrics.contentType;
    ctx.body = await metrics.render();
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`readiness check took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
