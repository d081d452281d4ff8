// Unit tests of the frontend's pure modules (`npm test`): bundles each src/*.test.ts with esbuild
// into a temporary directory and runs them with node's built-in test runner (node:test).
// Test files are never imported by src/index.ts, so they stay out of the shipped bundle.
import * as esbuild from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const src = fileURLToPath(new URL("src/", import.meta.url));
const files = readdirSync(src)
  .filter((f) => f.endsWith(".test.ts"))
  .sort();
if (!files.length) {
  console.error(`no *.test.ts files in ${src}`);
  process.exit(1);
}

const outdir = mkdtempSync(join(tmpdir(), "gradcause-frontend-tests-"));
let status = 1;
try {
  await esbuild.build({
    entryPoints: files.map((f) => join(src, f)),
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "inline",
    logLevel: "warning",
  });
  const compiled = files.map((f) => join(outdir, f.replace(/\.ts$/, ".mjs")));
  const result = spawnSync(process.execPath, ["--enable-source-maps", "--test", "--test-reporter=spec", ...compiled], {
    stdio: "inherit",
  });
  status = result.status ?? 1;
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
process.exit(status);
