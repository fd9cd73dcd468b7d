// Bundles js/src into the two files nbtrack ships in nbtrack/ui/static/:
//   runtime.js  every panel, its CSS and its npm dependencies, one ES module, sent to a page once
//   loader.js   the tiny ES module each widget's _esm holds: it fetches runtime.js over the
//               widget comm once per page (keyed by the runtime's sha256) and hands it the view
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

const runtime = await build({ ...common, entryPoints: [join(here, "src", "runtime.js")],
  loader: { ".css": "text" } });
const runtimeCode = runtime.outputFiles[0].contents;
const runtimeSha = createHash("sha256").update(runtimeCode).digest("hex");

const loader = await build({ ...common, entryPoints: [join(here, "src", "loader.js")],
  define: { __NBTRACK_RUNTIME_SHA__: JSON.stringify(runtimeSha) } });
const loaderCode = loader.outputFiles[0].contents;

mkdirSync(out, { recursive: true });
writeFileSync(join(out, "runtime.js"), runtimeCode);
writeFileSync(join(out, "loader.js"), loaderCode);
const manifest = { runtime_sha256: runtimeSha, sources_sha256: sourcesDigest(),
  runtime_bytes: runtimeCode.length, loader_bytes: loaderCode.length };
writeFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 1) + "\n");
console.log(`nbtrack panels: runtime.js ${(runtimeCode.length / 1024).toFixed(1)} KB,` +
  ` loader.js ${(loaderCode.length / 1024).toFixed(1)} KB -> ${relative(process.cwd(), out) || "."}`);
