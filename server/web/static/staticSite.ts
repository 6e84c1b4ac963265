import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import type { Middleware } from "koa";
import { PACKAGE_ROOT } from "../../packageRoot";

/** Where `vite build --config web/vite.config.ts` writes the web app. */
export const DEFAULT_WEB_APP_DIR = path.join(PACKAGE_ROOT, "web", "dist");

/** Paths that are never the web app: the APIs and the operational endpoints keep their own 404s. */
const RESERVED = /^\/(api|v1)(\/|$)|^\/(healthz|readyz|metrics)$/;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/** Whether a built web app is there to serve (the gateway mounts it only then). */
export function webAppBuilt(dir: string = DEFAULT_WEB_APP_DIR): boolean {
  return existsSync(path.join(dir, "index.html"));
}

/**
 * Serves the built web app: GET/HEAD of a file under `dir`, else `index.html`
 * for any other path outside /api, /v1 and the operational endpoints (the app
 * routes in the browser). Hashed assets are cached for a year; index.html is
 * revalidated each time, so a new build is picked up at once.
 */
export function staticSite(dir: string = DEFAULT_WEB_APP_DIR): Middleware {
  const root = path.resolve(dir);
  return async (ctx, next) => {
    if ((ctx.method !== "GET" && ctx.method !== "HEAD") || RESERVED.test(ctx.path)) return next();
    let relative: string;
    try {
      relative = decodeURIComponent(ctx.path);
    } catch {
      return next();
    }
    const file = path.resolve(root, `.${relative}`);
    if (file !== root && !file.startsWith(root + path.sep)) return next();
    let target = file;
    let stat = await fs.stat(target).catch(() => null);
    if (!stat?.isFile()) {
      // Missing assets are a real 404; anything else is a page of the app.
      if (relative.startsWith("/assets/")) return next();
      target = path.join(root, "index.html");
      stat = await fs.stat(target).catch(() => null);
      if (!stat?.isFile()) return next();
    }
    const isIndex = path.basename(target) === "index.html";
    ctx.status = 200;
    ctx.type = CONTENT_TYPES[path.extname(target)] ?? "application/octet-stream";
    ctx.length = stat.size;
    ctx.set("x-content-type-options", "nosniff");
    ctx.set("cache-control", isIndex ? "no-cache" : relative.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "public, max-age=300");
    if (isIndex) ctx.set("x-frame-options", "DENY");
    ctx.body = await fs.readFile(target); // Koa sends no body for HEAD
  };
}
