#!/usr/bin/env node
/**
 * Builds the admin dashboard (src/admin/dashboard/: TypeScript modules, index.html, style.css) into
 * dist/assets/admin/, which wrangler serves as Workers Static Assets (binding ASSETS, wrangler.toml).
 *
 * Run by wrangler itself ([build] command in wrangler.toml) before `wrangler dev` and `wrangler
 * deploy` (so `npm start`, `npm run deploy`, the deploy dry-run and the Deploy button all build it),
 * and by vitest.config.ts for the in-process tests. esbuild only bundles; types are checked by
 * `tsc -p tsconfig.dashboard.json` in `npm run check`.
 *
 * Files are written to a temp name and renamed, and only when changed: several `wrangler dev`
 * processes (parallel tests) may build at once while others read the directory.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { build } from "esbuild";

const root = resolve(import.meta.dirname, "..");
const source = join(root, "src/admin/dashboard");
const out = join(root, "dist/assets/admin");

/** Writes `content` to `path` atomically, unless the file already holds exactly that. */
function put(path, content) {
  try {
    if (readFileSync(path).equals(Buffer.from(content))) return;
  } catch {
    // not there yet
  }
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, content);
  renameSync(temp, path);
}

export async function buildDashboard() {
  const result = await build({
    entryPoints: [join(source, "main.ts")],
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: false,
    sourcemap: false,
    write: false,
    legalComments: "none",
    logLevel: "warning",
  });
  mkdirSync(out, { recursive: true });
  put(join(out, "dashboard.js"), result.outputFiles[0].contents);
  put(join(out, "index.html"), readFileSync(join(source, "index.html")));
  put(join(out, "dashboard.css"), readFileSync(join(source, "style.css")));
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  await buildDashboard();
}
