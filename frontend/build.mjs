// Bundles src/index.ts (with uPlot and all CSS) into one ES module, tb_gradcause/static/index.js.
// TensorBoard's plugin page forbids inline scripts and other origins, so everything ships in one file.
// The output is deterministic: the same sources and esbuild version give the same bytes
// (tests/test_browser.py rebuilds into a temporary file, `node build.mjs OUTFILE`, and compares).
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

await esbuild.build({
  entryPoints: [here("src/index.ts")],
  outfile: process.argv[2] ?? here("../tb_gradcause/static/index.js"),
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  charset: "utf8",
  legalComments: "eof",
  loader: { ".css": "text" },
  logLevel: "warning",
});
