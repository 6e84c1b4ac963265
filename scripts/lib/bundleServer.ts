import path from "node:path";

const ROOT = path.join(__dirname, "..", "..");

export interface BundleServerOptions {
  /** The TypeScript entry, relative to the repository root or absolute. */
  entry: string;
  outfile: string;
}

/**
 * Bundles the server's TypeScript into one CommonJS file with a source map,
 * npm packages left external (resolved from node_modules at run time, their
 * native parts and data files untouched). What the production process runs:
 * plain `node`, no compiler loaded, about 30 MiB smaller than under tsx.
 */
export function bundleServer(options: BundleServerOptions): void {
  // esbuild is tsx's compiler, so the server is compiled the same way in development and in production.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const esbuild = require("esbuild") as typeof import("esbuild");
  esbuild.buildSync({
    entryPoints: [path.resolve(ROOT, options.entry)],
    outfile: options.outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    packages: "external",
    sourcemap: true,
    logLevel: "warning",
    absWorkingDir: ROOT,
  });
}
