import path from "node:path";
import { bundleServer } from "./lib/bundleServer";

/**
 * `npm run build:server`: the CLI (and with it the gateway, `shareai start`)
 * as one file, `dist/shareai.cjs`, which `npm start` runs with plain node.
 * Needs the contracts' TypeChain bindings: `hardhat compile` runs first.
 */
const OUTFILE = path.join(__dirname, "..", "dist", "shareai.cjs");

bundleServer({ entry: "server/cli/bin.ts", outfile: OUTFILE });
process.stdout.write(`built ${path.relative(process.cwd(), OUTFILE)}\n`);
