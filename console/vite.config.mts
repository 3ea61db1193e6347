// The console's build: one entry (index.html), hashed assets, no inline scripts or styles (the
// Content-Security-Policy allows this origin's files only), and each page a chunk of its own
// so the first page loads no more than it needs.
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    // dist/.vite/manifest.json: which chunks each page needs (tests/console_budget.mjs reads it).
    manifest: true,
    reportCompressedSize: false,
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
});
