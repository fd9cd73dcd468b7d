// Bundles js/src into the files nbtrack ships in nbtrack/ui/static/:
//   runtime.js  every panel, its CSS and its npm dependencies, one ES module, sent to a page once
//   loader.js   the tiny ES module each widget's _esm holds: it fetches runtime.js over the
//               widget comm once per page (keyed by the runtime's sha256) and hands it the view
//   charts.js   vega + vega-lite (~850 KB), fetched over the comm by the first chart that needs it
//               (js/src/charts/modules.js), so tables never pay for it
//   live_loader.js  the _esm of a live panel shown mid-cell: the kernel prepends runtime.js to it
// plus manifest.json: the runtime's sha256 and the sha256 of the sources it was built from, which
// the tests compare with js/ so a stale bundle cannot pass CI.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2] || join(here, "..", "nbtrack", "ui", "static");

/** sha256 over every source file (path and bytes), the lock file and this script. */
export function sourcesDigest() {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(join(here, "src"));
  files.push(join(here, "package-lock.json"), join(here, "build.mjs"));
  const hash = createHash("sha256");
  for (const path of files) {
    hash.update(relative(here, path).split("\\").join("/"));
    hash.update("\0");
    hash.update(readFileSync(path));
    hash.update("\0");
  }
  return hash.digest("hex");
}

const common = { bundle: true, format: "esm", minify: true, write: false, legalComments: "none",
  target: ["es2020"], logLevel: "warning" };

const charts = await build({ ...common, entryPoints: [join(here, "src", "charts_entry.js")] });
const chartsCode = charts.outputFiles[0].contents;
const chartsSha = createHash("sha256").update(chartsCode).digest("hex");

const runtime = await build({ ...common, entryPoints: [join(here, "src", "runtime.js")],
  loader: { ".css": "text" }, define: { __NBTRACK_CHARTS_SHA__: JSON.stringify(chartsSha) } });
const runtimeCode = runtime.outputFiles[0].contents;
const runtimeSha = createHash("sha256").update(runtimeCode).digest("hex");

const loader = await build({ ...common, entryPoints: [join(here, "src", "loader.js")],
  define: { __NBTRACK_RUNTIME_SHA__: JSON.stringify(runtimeSha) } });
const loaderCode = loader.outputFiles[0].contents;
const liveLoader = await build({ ...common, entryPoints: [join(here, "src", "live_loader.js")],
  define: { __NBTRACK_RUNTIME_SHA__: JSON.stringify(runtimeSha) } });
const liveLoaderCode = liveLoader.outputFiles[0].contents;

mkdirSync(out, { recursive: true });
writeFileSync(join(out, "runtime.js"), runtimeCode);
writeFileSync(join(out, "loader.js"), loaderCode);
writeFileSync(join(out, "charts.js"), chartsCode);
writeFileSync(join(out, "live_loader.js"), liveLoaderCode);
const manifest = { runtime_sha256: runtimeSha, sources_sha256: sourcesDigest(),
  runtime_bytes: runtimeCode.length, loader_bytes: loaderCode.length,
  modules: { charts: { sha256: chartsSha, bytes: chartsCode.length } }, live_loader_bytes: liveLoaderCode.length };
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 1) + "\n");
console.log(`nbtrack panels: runtime.js ${(runtimeCode.length / 1024).toFixed(1)} KB,` +
  ` loader.js ${(loaderCode.length / 1024).toFixed(1)} KB, charts.js ${(chartsCode.length / 1024).toFixed(1)} KB` +
  ` -> ${relative(process.cwd(), out) || "."}`);
