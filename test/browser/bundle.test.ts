import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { expect } from "chai";
import { UsageEscrow__factory } from "../../typechain-types";
import { ensureWebAppBuilt } from "./support/browserSupport";

/**
 * The web app's bundle (docs/web-app.md, "Bundle"): no contract bytecode in any chunk, the first
 * load small, and the heavy code (the receipt verifier, the signed-in pages) in lazy chunks. It
 * reads the build that `npm run test:browser` makes first (or builds it), so it costs no browser.
 */

const DIST = path.resolve(__dirname, "../../web/dist");
const ASSETS = path.join(DIST, "assets");

/** Generous budgets for the JS loaded before the Models page can render (entry + its static imports). */
const INITIAL_JS_BUDGET = { raw: 350_000, gzip: 120_000 };

/**
 * Sources (as the chunks' source maps name them, e.g. `../../../server/chain/escrowReader.ts`)
 * that must never be in the first load: they are loaded when a page or a receipt needs them.
 */
const LAZY_SOURCES: { name: string; pattern: RegExp }[] = [
  { name: "server code (the receipt verifier)", pattern: /^(\.\.\/)*server\// },
  { name: "TypeChain bindings", pattern: /^(\.\.\/)*typechain-types\// },
  { name: "zod (receipt bundle parser)", pattern: /(^|\/)node_modules\/zod\// },
  { name: "@openzeppelin/merkle-tree", pattern: /(^|\/)node_modules\/@openzeppelin\/merkle-tree\// },
  { name: "web/src/receiptCheck.ts", pattern: /(^|\/)src\/receiptCheck\.ts$/ },
  { name: "the Account page", pattern: /(^|\/)src\/pages\/AccountPage\.tsx$/ },
  { name: "the API page", pattern: /(^|\/)src\/pages\/ApiPage\.tsx$/ },
  { name: "the Provider page", pattern: /(^|\/)src\/pages\/ProviderPage\.tsx$/ },
  { name: "web/src/wallet.ts", pattern: /(^|\/)src\/wallet\.ts$/ },
  { name: "ethers", pattern: /(^|\/)node_modules\/ethers\// },
  { name: "siwe", pattern: /(^|\/)node_modules\/siwe\// },
];

/** `./name.js` chunks a chunk imports statically (`import … from "./x.js"`, `import "./x.js"`), not `import("./x.js")`. */
function staticImports(code: string): string[] {
  const found = new Set<string>();
  for (const match of code.matchAll(/(?:\bfrom\s*|\bimport\s*)["'](\.\/[^"']+\.js)["']/g)) found.add(path.basename(match[1]));
  return [...found];
}

/** The entry chunk from index.html, and every chunk it pulls in statically: what loads before anything renders. */
function initialChunks(): string[] {
  const html = readFileSync(path.join(DIST, "index.html"), "utf8");
  const entries = [...html.matchAll(/<script[^>]+type="module"[^>]+src="\/assets\/([^"]+\.js)"/g)].map((m) => m[1]);
  expect(entries, "index.html's module script").to.have.length(1);
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length) {
    const name = queue.shift()!;
    if (seen.has(name)) continue;
    seen.add(name);
    queue.push(...staticImports(readFileSync(path.join(ASSETS, name), "utf8")));
  }
  return [...seen];
}

function sizes(names: string[]): { raw: number; gzip: number } {
  let raw = 0;
  let gzip = 0;
  for (const name of names) {
    const code = readFileSync(path.join(ASSETS, name));
    raw += code.length;
    gzip += gzipSync(code).length;
  }
  return { raw, gzip };
}

const kB = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;

describe("the web app's bundle", function () {
  this.timeout(120_000);

  let jsChunks: string[];
  let initial: string[];

  before(() => {
    ensureWebAppBuilt();
    jsChunks = readdirSync(ASSETS).filter((name) => name.endsWith(".js"));
    initial = initialChunks();
  });

  it("holds no contract bytecode in any chunk (ABI-only contract access)", () => {
    const escrowCode = UsageEscrow__factory.bytecode.slice(2, 66).toLowerCase();
    for (const name of jsChunks) {
      const code = readFileSync(path.join(ASSETS, name), "utf8");
      expect(code.toLowerCase().includes(escrowCode), `${name} holds UsageEscrow's bytecode`).to.equal(false);
      // Any creation code: a long hex literal, as TypeChain factories embed it ("0x6080604052…", "0x6101c0604052…").
      expect(/["'`]0x[0-9a-fA-F]{2000,}["'`]/.test(code), `${name} holds a long hex literal (contract bytecode?)`).to.equal(false);
    }
  });

  it("keeps the verifier and the signed-in pages out of the first load", () => {
    const initialSources = initial.flatMap((name) => {
      // The bundler's own runtime chunk has no sources of ours, and no map.
      const mapFile = path.join(ASSETS, `${name}.map`);
      if (!existsSync(mapFile)) {
        expect(name, `${name} has no source map`).to.match(/^rolldown-runtime-/);
        return [];
      }
      const map = JSON.parse(readFileSync(mapFile, "utf8")) as { sources: string[] };
      return map.sources;
    });
    expect(initialSources.length).to.be.greaterThan(0);
    for (const { name, pattern } of LAZY_SOURCES) {
      const hits = initialSources.filter((source) => pattern.test(source));
      expect(hits, `${name} is in the first load (${initial.join(", ")})`).to.deep.equal([]);
    }
    // ...and they are still built, as lazy chunks.
    expect(jsChunks.length).to.be.greaterThan(initial.length);
  });

  it(`keeps the first load under ${kB(INITIAL_JS_BUDGET.raw)} (${kB(INITIAL_JS_BUDGET.gzip)} gzip)`, () => {
    const first = sizes(initial);
    const total = sizes(jsChunks);
    console.log(
      `      first load: ${initial.length} chunk(s), ${kB(first.raw)} (${kB(first.gzip)} gzip); all JS: ${jsChunks.length} chunks, ${kB(total.raw)} (${kB(total.gzip)} gzip)`,
    );
    expect(first.raw).to.be.at.most(INITIAL_JS_BUDGET.raw);
    expect(first.gzip).to.be.at.most(INITIAL_JS_BUDGET.gzip);
  });
});
