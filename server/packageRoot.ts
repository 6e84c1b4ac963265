import { existsSync } from "node:fs";
import path from "node:path";

/**
 * The folder that holds ShareAI's package.json: the repository on a
 * development machine, the installed package elsewhere.
 *
 * Files the server reads or starts at run time (the built web app, the local
 * chain's preload script, Hardhat's project) are found from here rather than
 * from `__dirname`, because `__dirname` is a source folder under tsx but
 * `dist/` when the server runs as the production bundle (and a temporary
 * folder for the benchmark's bundle, which runs from the repository).
 */
export const PACKAGE_ROOT = packageRootAbove(__dirname) ?? packageRootAbove(process.cwd()) ?? process.cwd();

function packageRootAbove(start: string): string | null {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "hardhat.config.ts"))) return dir;
    if (path.dirname(dir) === dir) return null;
  }
}
