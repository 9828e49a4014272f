#!/usr/bin/env node
// Bundle src/main.ts into ONE CommonJS file (see docs/appliance-build.md).
//
//   node appliance/bundle.mjs                 -> dist/vecto.cjs      (native packages external, load from node_modules)
//   node appliance/bundle.mjs --sea           -> dist/sea/vecto.cjs  (everything inside; addons come from SEA assets)
//   node appliance/bundle.mjs --entry F --outfile O [--sea]          (e.g. the appliance/probe self-check)
//
// Fails on any esbuild warning about import.meta (a CJS/SEA bundle has none) and, in --sea mode, on any
// require of a native addon that the SEA loader does not know about.
import { readFileSync, chmodSync, mkdirSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import * as esbuild from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NATIVE_PACKAGES = ["better-sqlite3", "argon2", "pkcs11js"];
const LOADER = join(ROOT, "src", "native", "loader.ts");

/** Which package (by node_modules/<name>/) a resolved file belongs to, or undefined. */
function packageOf(file) {
  const parts = file.split(sep);
  const i = parts.lastIndexOf("node_modules");
  if (i < 0 || i + 1 >= parts.length) return undefined;
  const first = parts[i + 1];
  return first.startsWith("@") ? `${first}/${parts[i + 2]}` : first;
}

/**
 * Packages whose ESM build finds files through import.meta.url (node-cron locates its daemon that
 * way), which a CommonJS bundle does not have: their CommonJS build is bundled instead, where the
 * same lookup uses __filename and is only evaluated, never used (we schedule functions, not files).
 */
const COMMONJS_ENTRIES = ["node-cron"];

function commonJsEntriesPlugin() {
  const require = createRequire(import.meta.url);
  return {
    name: "vecto-commonjs-entries",
    setup(build) {
      for (const name of COMMONJS_ENTRIES) {
        // require.resolve follows the package's "require" export: its CommonJS build.
        const path = require.resolve(name);
        build.onResolve({ filter: new RegExp(`^${name}$`) }, () => ({ path }));
      }
    },
  };
}

/**
 * SEA mode: argon2's `require("node-gyp-build")(__dirname)` and pkcs11js's
 * `require("./build/Release/pkcs11.node")` become calls into src/native/loader.ts, which extracts the
 * addon from the SEA asset, checks its sha256 and dlopens it. better-sqlite3 gets its addon through the
 * `nativeBinding` option (src/native/addons.ts), so its `bindings` fallback is made to fail loudly.
 */
function seaNativePlugin() {
  const loaderPath = JSON.stringify(LOADER);
  return {
    name: "vecto-sea-native",
    setup(build) {
      build.onResolve({ filter: /^node-gyp-build$/ }, (args) => {
        if (packageOf(args.importer) === "argon2") return { path: "argon2", namespace: "vecto-sea-addon" };
        return { errors: [{ text: `node-gyp-build imported by ${args.importer}: no SEA asset for it; add it to appliance/build-sea.mjs` }] };
      });
      build.onResolve({ filter: /\.node$/ }, (args) => {
        if (packageOf(args.importer) === "pkcs11js" && args.path === "./build/Release/pkcs11.node") {
          return { path: "pkcs11", namespace: "vecto-sea-addon" };
        }
        return { errors: [{ text: `native addon ${args.path} required by ${args.importer}: no SEA asset for it` }] };
      });
      build.onResolve({ filter: /^bindings$/ }, (args) => {
        if (packageOf(args.importer) === "better-sqlite3") return { path: "bindings", namespace: "vecto-sea-stub" };
        return { errors: [{ text: `bindings imported by ${args.importer}: no SEA asset for it` }] };
      });
      build.onLoad({ filter: /.*/, namespace: "vecto-sea-addon" }, (args) => {
        const load = `require(${loaderPath}).loadNativeAddon(${JSON.stringify(args.path)})`;
        // argon2 calls the node-gyp-build export with its __dirname; pkcs11js requires the .node directly.
        const contents = args.path === "argon2" ? `module.exports = function () { return ${load}; };` : `module.exports = ${load};`;
        return { contents, loader: "js", resolveDir: ROOT };
      });
      build.onLoad({ filter: /.*/, namespace: "vecto-sea-stub" }, () => ({
        contents:
          'module.exports = function () { throw new Error("better-sqlite3: the single binary has no node_modules; ' +
          'open databases with { nativeBinding: sqliteNativeBinding() } from src/native/addons.ts"); };',
        loader: "js",
      }));
    },
  };
}

/** Our own sources must not find files at run time through import.meta.url / __dirname / __filename. */
function noRuntimePathsPlugin() {
  return {
    name: "vecto-no-runtime-paths",
    setup(build) {
      build.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
        const rel = relative(ROOT, args.path);
        if (rel.startsWith("..") || rel.split(sep).includes("node_modules")) return undefined;
        const text = readFileSync(args.path, "utf8");
        const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:])\/\/.*$/gm, "$1");
        const m = /\bimport\.meta\.(url|dirname|filename)\b|\b__dirname\b|\b__filename\b/.exec(code);
        if (m) {
          return { errors: [{ text: `${rel}: "${m[0]}" locates files at run time; import the file as text/asset instead (DESIGN.md, Appliance)` }] };
        }
        return { contents: text, loader: "ts" };
      });
    },
  };
}

/**
 * Build one bundle. Returns { outfile, warnings }.
 * @param {{ sea?: boolean, entry?: string, outfile?: string, quiet?: boolean }} [opts]
 */
export async function bundle(opts = {}) {
  const sea = Boolean(opts.sea);
  const entry = resolve(ROOT, opts.entry ?? "src/main.ts");
  const outfile = resolve(ROOT, opts.outfile ?? (sea ? "dist/sea/vecto.cjs" : "dist/vecto.cjs"));
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  mkdirSync(dirname(outfile), { recursive: true });

  const result = await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    // A SEA main script is wrapped in a function: a hashbang there is a syntax error.
    banner: sea ? { js: `/* vecto ${pkg.version} (single binary) */` } : { js: "#!/usr/bin/env node" },
    sourcemap: sea ? false : "linked",
    loader: { ".sql": "text", ".txt": "text" },
    external: sea ? [] : NATIVE_PACKAGES,
    plugins: sea ? [commonJsEntriesPlugin(), seaNativePlugin(), noRuntimePathsPlugin()] : [commonJsEntriesPlugin(), noRuntimePathsPlugin()],
    logLevel: "silent",
    metafile: true,
    legalComments: "none",
    keepNames: true,
  });

  const warnings = result.warnings;
  const formatted = warnings.length
    ? await esbuild.formatMessages(warnings, { kind: "warning", color: false })
    : [];
  if (!opts.quiet) for (const w of formatted) console.warn(w.trimEnd());
  const fatal = warnings.filter(
    (w) =>
      /import\.meta/.test(w.text) ||
      w.id === "empty-import-meta" ||
      // A dynamic require cannot work in the SEA (its require() only loads builtins).
      (sea && (w.id === "unsupported-require-call" || w.id === "unsupported-dynamic-import")),
  );
  if (fatal.length) {
    throw new Error(`bundle: ${fatal.length} fatal warning(s) (import.meta / dynamic require); see above`);
  }

  // In SEA mode nothing may still try to load a native package from disk.
  if (sea) {
    const inputs = Object.keys(result.metafile.inputs);
    const stray = inputs.filter((p) => p.endsWith(".node") || /(^|\/)node_modules\/(bindings|node-gyp-build)\//.test(p));
    if (stray.length) throw new Error(`bundle --sea: native loaders still bundled: ${stray.join(", ")}`);
  } else {
    chmodSync(outfile, 0o755);
  }
  return { outfile, warnings, metafile: result.metafile };
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--sea") opts.sea = true;
    else if (a === "--entry") opts.entry = argv[++i];
    else if (a === "--outfile") opts.outfile = argv[++i];
    else throw new Error(`bundle: unknown argument ${a}`);
  }
  return opts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const { outfile } = await bundle(parseArgs(process.argv.slice(2)));
    console.log(`bundle: ${relative(process.cwd(), outfile)}`);
  } catch (err) {
    console.error(`bundle: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
