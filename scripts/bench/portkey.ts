import path from "node:path";
import { PinnedProcess, waitForHttp } from "./processes";

/**
 * Portkey's open-source gateway (npm `@portkey-ai/gateway`, a dev dependency),
 * the benchmark's peer, run the way its README runs it on Node
 * (`node build/start-server.js`, flags read from argv: `--port=<n>`, and
 * `--headless` to skip the console UI routes), in its own pinned process.
 *
 * Requests are routed per request with headers, no config file:
 * `x-portkey-provider: openai` and `x-portkey-custom-host: <upstream>/v1`
 * (Portkey's own URL-safety check trusts 127.0.0.1 by default, see
 * TRUSTED_CUSTOM_HOSTS); the client's `Authorization` is the OpenAI key it
 * forwards upstream.
 *
 * `portkeyFetchShim.cjs` is preloaded: without it every streamed request fails
 * in this install (see the shim's comment); non-stream requests do not touch it.
 */
const ROOT = path.join(__dirname, "..", "..");
const START_SERVER = path.join(ROOT, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
const SHIM = path.join(__dirname, "portkeyFetchShim.cjs");

export async function startPortkey(options: { cpu: string | null; port: number }): Promise<PinnedProcess> {
  const child = new PinnedProcess({
    name: "portkey",
    cpu: options.cpu,
    cwd: ROOT,
    command: [process.execPath, "--require", SHIM, START_SERVER, `--port=${options.port}`, "--headless"],
  });
  // `GET /` answers "AI Gateway says hey!" once it listens.
  await waitForHttp(`http://127.0.0.1:${options.port}/`, child, { status: 200 });
  return child;
}

export function portkeyHeaders(upstreamBaseUrl: string): Record<string, string> {
  return {
    "content-type": "application/json",
    authorization: "Bearer sk-bench-upstream",
    "x-portkey-provider": "openai",
    "x-portkey-custom-host": upstreamBaseUrl,
  };
}
