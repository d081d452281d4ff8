// Bundles src/index.ts (with uPlot and all CSS) into one ES module, tb_gradcause/plugin/static/index.js.
// TensorBoard's plugin page forbids inline scripts and other origins, so everything ships in one file.
// The output is deterministic: the same sources and esbuild version give the same bytes
// (tests/test_browser.py rebuilds into a temporary file, `node build.mjs OUTFILE`, and compares).
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

/** CSS is imported as a string (index.ts injects it): minify it with esbuild's CSS minifier first. */
const minifiedCssText = {
  name: "minified-css-text",
  setup(build) {
    build.onLoad({ filter: /\.css$/ }, async (args) => {
      const css = await esbuild.build({ entryPoints: [args.path], minify: true, write: false, logLevel: "warning" });
      return { contents: css.outputFiles[0].text, loader: "text" };
    });
  },
};

await esbuild.build({
  entryPoints: [here("src/index.ts")],
  outfile: process.argv[2] ?? here("../tb_gradcause/plugin/static/index.js"),
  bundle: true,
  format: "esm",
  target: "es2020",
  minify: true,
  charset: "utf8",
  legalComments: "eof",
  plugins: [minifiedCssText],
  logLevel: "warning",
});
