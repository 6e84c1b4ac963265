import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { bundleServer } from "../lib/bundleServer";
import { NODE_TSX } from "./processes";

/**
 * How the benchmark runs the gateway process:
 *
 * - `bundle` (default): the entry bundled by esbuild into one CommonJS file
 *   with a source map, npm packages left external, run by plain `node`, as
 *   `npm start` runs the server (`dist/shareai.cjs`, scripts/lib/bundleServer.ts).
 *   A CPU profile's positions map back to the TypeScript sources through the
 *   source map.
 * - `tsx`: `node --require tsx/cjs scripts/bench/gatewayServer.ts`, TypeScript
 *   compiled on load, as `bin/shareai.js` runs the CLI in development.
 */
export type GatewayRuntime = "tsx" | "bundle";

const ROOT = path.join(__dirname, "..", "..");
const ENTRY = path.join(__dirname, "gatewayServer.ts");

export interface GatewayLaunch {
  command: string[];
  env: NodeJS.ProcessEnv;
  /** The bundle's source map, for mapping profile positions back to sources (bundle only). */
  sourceMap: string | null;
  cleanup(): void;
}

/** `keepIn`: write the bundle there and keep it (a profile needs its source map afterwards); default: a temporary folder. */
export function prepareGateway(runtime: GatewayRuntime, nodeFlags: string[] = [], keepIn?: string): GatewayLaunch {
  if (runtime === "tsx") {
    return { command: [...NODE_TSX, ...nodeFlags, ENTRY], env: {}, sourceMap: null, cleanup: () => undefined };
  }
  const dir = keepIn ?? fs.mkdtempSync(path.join(os.tmpdir(), "shareai-bench-gateway-"));
  fs.mkdirSync(dir, { recursive: true });
  const outfile = path.join(dir, "gateway.js");
  bundleServer({ entry: ENTRY, outfile });
  return {
    command: [process.execPath, ...nodeFlags, outfile],
    // The bundle lives outside the repository: its external packages resolve from the repository's node_modules.
    env: { NODE_PATH: path.join(ROOT, "node_modules") },
    sourceMap: `${outfile}.map`,
    cleanup: () => {
      if (!keepIn) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
