import path from "node:path";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The web app: root web/, built into web/dist (git-ignored), served by the gateway at `/`.
// `npm run dev:web` proxies /api and /v1 to a gateway on 127.0.0.1:8080 (`npm start`).
export default defineConfig(({ command }) => ({
  root: __dirname,
  base: "/",
  plugins: [react()],
  resolve: {
    // One ethers in the build, the ES module one: siwe is CommonJS, and its `require("ethers")` would
    // otherwise bundle ethers' CommonJS build as well, a second full copy (docs/web-app.md, "Bundle").
    // The dev server keeps its own dependency pre-bundling.
    alias: command === "build" ? [{ find: /^ethers$/, replacement: path.join(path.dirname(require.resolve("ethers")), "../lib.esm/index.js") }] : [],
  },
  build: {
    outDir: path.join(__dirname, "dist"),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 600, // kB; the largest chunk is the wallet's (ethers, siwe)
    rollupOptions: {
      // siwe's parser (apg-js) has `'use strict;'` strings at module level: harmless, and noisy.
      onwarn(warning, warn) {
        if (warning.code === "MODULE_LEVEL_DIRECTIVE") return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:8080", "/v1": "http://127.0.0.1:8080" },
  },
}));
