import { readFileSync } from "node:fs";
import path from "node:path";

/**
 * The node flags `npm start` gives the server: package.json's `start` script
 * is `node [flags] dist/shareai.cjs start`. The end-to-end test and the
 * gateway benchmark run the server with exactly these, so what they measure
 * and check is what users run.
 */
export function startScriptNodeFlags(): string[] {
  const packageJson = path.join(__dirname, "..", "..", "package.json");
  const script: string = JSON.parse(readFileSync(packageJson, "utf8")).scripts.start;
  const words = script.trim().split(/\s+/);
  if (words[0] !== "node" || words.at(-2) !== "dist/shareai.cjs" || words.at(-1) !== "start") {
    throw new Error(`package.json's start script is not \`node [flags] dist/shareai.cjs start\`: ${script}`);
  }
  return words.slice(1, -2);
}
