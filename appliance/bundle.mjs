#!/usr/bin/env node
// Bundle src/main.ts into ONE CommonJS file (see docs/appliance-build.md).
//
//   node appliance/bundle.mjs                 -> dist/vecto.cjs      (native packages external, load from node_modules)
//   node appliance/bundle.mjs --sea           -> dist/sea/vecto.cjs  (everything inside; addons come from SEA assets)
//   node appliance/bundle.mjs --entry F --outfile O [--sea]          (e.g. the appliance/probe self-check)
//   ... --vendor-keys FILE   compile in the vendor's license keys (a release); default: src/license/vendor-keys.ts's list
//   ... --default-vendor-keys   build with that default list even where an earlier build used --vendor-keys
//
// The keys a build was made with stick to its output file: they are recorded beside it
// (<outfile>.vendor-keys.json) and a later build of the same file without either flag compiles in
// the same keys again, saying so. So `npm start` (which runs `npm run build`) never turns a build
// made for the vendor's licenses back into one that trusts only the development key.
//
// FILE is a JSON array [{"kid": "...", "publicKey": "..."}, ...] (publicKey: raw 32 bytes in base64,
// or an SPKI PEM), checked with src/license/format.ts's own trustedKeyMap (kid = first 16 hex of
// sha256 of the raw key); a bad file fails the build with one line. It becomes the global
// __VECTO_VENDOR_KEYS__ (esbuild define, types/build-defines.d.ts). Never runtime configuration: a
// configurable trust anchor would let anyone sign their own license (docs/licensing.md).
//
// Fails on any esbuild warning about import.meta (a CJS/SEA bundle has none) and, in --sea mode, on any
// require of a native addon that the SEA loader does not know about.
import { readFileSync, chmodSync, mkdirSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
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
        return {
          errors: [
            {
              text: `node-gyp-build imported by ${args.importer}: no SEA asset for it; add it to appliance/build-sea.mjs`,
            },
          ],
        };
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
        const contents =
          args.path === "argon2" ? `module.exports = function () { return ${load}; };` : `module.exports = ${load};`;
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

/**
 * zod's `locales` namespace (error messages in some 50 languages, 295 KB: 14 % of the bundle) left
 * out: the appliance answers in English, which zod imports on its own (classic/schemas.js imports
 * locales/en.js), and nothing here calls z.locales or z.config. Every start would read and parse it.
 */
function noZodLocalesPlugin() {
  return {
    name: "vecto-no-zod-locales",
    setup(build) {
      build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
        packageOf(args.importer) === "zod" ? { path: "zod-locales", namespace: "vecto-no-zod-locales" } : undefined,
      );
      build.onLoad({ filter: /.*/, namespace: "vecto-no-zod-locales" }, () => ({
        contents: "export {};",
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
          return {
            errors: [
              {
                text: `${rel}: "${m[0]}" locates files at run time; import the file as text/asset instead (DESIGN.md, Appliance)`,
              },
            ],
          };
        }
        return { contents: text, loader: "ts" };
      });
    },
  };
}

const VENDOR_KEYS_GLOBAL = "__VECTO_VENDOR_KEYS__";
const VENDOR_KEYS_MODULE = "src/license/vendor-keys.ts";

/**
 * src/license's own code (format.ts's trustedKeyMap, vendor-keys.ts's default list) and src/crypto/ed25519.ts,
 * bundled on the fly and imported: the build checks a key exactly as license verification does.
 */
async function licenseModules() {
  const result = await esbuild.build({
    stdin: {
      contents: [
        'export { trustedKeyMap } from "./src/license/format.js";',
        'export { encodePublicKey } from "./src/crypto/ed25519.js";',
        'export { DEFAULT_VENDOR_KEYS } from "./src/license/vendor-keys.js";',
      ].join("\n"),
      resolveDir: ROOT,
      loader: "ts",
      sourcefile: "vendor-keys-check.ts",
    },
    bundle: true,
    write: false,
    platform: "node",
    format: "esm",
    target: "node20",
    logLevel: "silent",
  });
  return import(`data:text/javascript;base64,${Buffer.from(result.outputFiles[0].contents).toString("base64")}`);
}

/**
 * The vendor keys to compile in. Without `file`: the default list (nothing is defined; the source's
 * list stays). With it: the file, every entry checked, public keys normalized to raw base64.
 * Any problem is one line naming the file and the entry.
 * @param {string} [file]
 * @returns {Promise<{ keys?: { kid: string, publicKey: string }[], ids: string[], source: string }>}
 */
export async function loadVendorKeys(file) {
  const license = await licenseModules();
  if (file === undefined)
    return { ids: license.DEFAULT_VENDOR_KEYS.map((k) => k.kid), source: `the default list in ${VENDOR_KEYS_MODULE}` };
  const fail = (message) => {
    throw new Error(`--vendor-keys ${file}: ${message}`.replace(/\s+/g, " "));
  };
  let list;
  try {
    list = JSON.parse(readFileSync(resolve(file), "utf8"));
  } catch (err) {
    fail(err instanceof SyntaxError ? `not JSON (${err.message})` : `cannot read it (${err.code ?? err.message})`);
  }
  const keys = checkVendorKeys(license, list, fail);
  return { keys, ids: keys.map((k) => k.kid), source: file };
}

/** Every entry of a vendor key list checked as the appliance checks it; public keys normalized to raw base64. */
function checkVendorKeys(license, list, fail) {
  const shape = '[{"kid": "...", "publicKey": "..."}, ...]';
  if (!Array.isArray(list) || list.length === 0) fail(`must be a non-empty JSON array ${shape}`);
  const keys = [];
  for (const [i, entry] of list.entries()) {
    const at = `entry ${i + 1}`;
    if (entry === null || typeof entry !== "object" || Array.isArray(entry))
      fail(`${at}: must be an object {"kid": "...", "publicKey": "..."}`);
    const unknown = Object.keys(entry).filter((k) => k !== "kid" && k !== "publicKey");
    if (unknown.length) fail(`${at}: unknown field "${unknown[0]}" (an entry has "kid" and "publicKey" only)`);
    // The rule a license envelope's kid follows (format.ts).
    if (typeof entry.kid !== "string" || !/^[0-9a-f]{16}$/.test(entry.kid))
      fail(`${at}: "kid" must be 16 lowercase hex digits (the first 16 of sha256 of the raw public key)`);
    if (typeof entry.publicKey !== "string")
      fail(`${at} (kid ${entry.kid}): "publicKey" must be the raw 32-byte key in base64, or an SPKI PEM`);
    if (keys.some((k) => k.kid === entry.kid)) fail(`${at}: kid ${entry.kid} is listed twice`);
    let raw;
    try {
      raw = license.trustedKeyMap([{ kid: entry.kid, publicKey: entry.publicKey }]).get(entry.kid);
    } catch (err) {
      fail(`${at} (kid ${entry.kid}): ${err.message}`);
    }
    keys.push({ kid: entry.kid, publicKey: license.encodePublicKey(raw) });
  }
  license.trustedKeyMap(keys); // the list as the appliance will use it
  return keys;
}

/** Where the keys a build was made with are recorded: beside its output file. */
export function vendorKeysRecord(outfile) {
  return `${outfile}.vendor-keys.json`;
}

/**
 * The keys to build `outfile` with: the file given; the default list when asked; otherwise the keys
 * recorded by the previous build of the same file (checked again), else the default list.
 */
async function chooseVendorKeys(opts, outfile) {
  if (opts.vendorKeys !== undefined && opts.defaultVendorKeys)
    throw new Error("--vendor-keys and --default-vendor-keys exclude each other");
  const record = vendorKeysRecord(outfile);
  if (opts.vendorKeys !== undefined || opts.defaultVendorKeys || !existsSync(record))
    return loadVendorKeys(opts.vendorKeys);
  const inside = relative(process.cwd(), record);
  const shown = inside.startsWith("..") || isAbsolute(inside) ? record : inside;
  const fail = (message) => {
    throw new Error(
      `${shown} (the vendor keys of the previous build): ${message}; rebuild with --vendor-keys FILE or --default-vendor-keys`.replace(
        /\s+/g,
        " ",
      ),
    );
  };
  let recorded;
  try {
    recorded = JSON.parse(readFileSync(record, "utf8"));
  } catch (err) {
    fail(err instanceof SyntaxError ? "not JSON" : `cannot read it (${err.code ?? err.message})`);
  }
  const keys = checkVendorKeys(await licenseModules(), recorded?.keys, fail);
  const from = typeof recorded.source === "string" ? `${recorded.source}, ` : "";
  return {
    keys,
    ids: keys.map((k) => k.kid),
    source: `kept from the previous build: ${from}recorded in ${shown}; --default-vendor-keys drops them`,
    kept: true,
  };
}

/** After a successful build: record its keys beside it, or drop a stale record when it has the default list. */
function recordVendorKeys(outfile, vendor) {
  const record = vendorKeysRecord(outfile);
  if (!vendor.keys) return rmSync(record, { force: true });
  if (vendor.kept) return undefined;
  writeFileSync(record, `${JSON.stringify({ source: resolve(vendor.source), keys: vendor.keys }, null, 2)}\n`);
}

/**
 * Build one bundle. Returns { outfile, warnings, metafile, vendorKeyIds, vendorKeysSource }.
 * @param {{ sea?: boolean, entry?: string, outfile?: string, vendorKeys?: string, defaultVendorKeys?: boolean, quiet?: boolean }} [opts]
 */
export async function bundle(opts = {}) {
  const sea = Boolean(opts.sea);
  const entry = resolve(ROOT, opts.entry ?? "src/main.ts");
  const outfile = resolve(ROOT, opts.outfile ?? (sea ? "dist/sea/vecto.cjs" : "dist/vecto.cjs"));
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  // First: a bad keys file fails before anything is written.
  const vendor = await chooseVendorKeys(opts, outfile);
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
    plugins: sea
      ? [commonJsEntriesPlugin(), noZodLocalesPlugin(), seaNativePlugin(), noRuntimePathsPlugin()]
      : [commonJsEntriesPlugin(), noZodLocalesPlugin(), noRuntimePathsPlugin()],
    logLevel: "silent",
    metafile: true,
    legalComments: "none",
    // Whitespace and syntax only, identifiers kept: a 28 % smaller file for `vecto serve` to read and
    // parse at every start (docs/architecture.md, Start-up), with function names intact in stack frames.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    define: vendor.keys ? { [VENDOR_KEYS_GLOBAL]: JSON.stringify(vendor.keys) } : {},
  });

  const warnings = result.warnings;
  const formatted = warnings.length ? await esbuild.formatMessages(warnings, { kind: "warning", color: false }) : [];
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
    const stray = inputs.filter(
      (p) => p.endsWith(".node") || /(^|\/)node_modules\/(bindings|node-gyp-build)\//.test(p),
    );
    if (stray.length) throw new Error(`bundle --sea: native loaders still bundled: ${stray.join(", ")}`);
  } else {
    chmodSync(outfile, 0o755);
  }

  // The keys must have reached the code that reads them (a renamed global would silently keep the default list).
  if (vendor.keys && Object.keys(result.metafile.inputs).some((p) => resolve(p) === join(ROOT, VENDOR_KEYS_MODULE))) {
    const text = readFileSync(outfile, "utf8");
    const missing = vendor.ids.filter((kid) => !text.includes(`"${kid}"`));
    if (missing.length || text.includes(`typeof ${VENDOR_KEYS_GLOBAL}`))
      throw new Error(
        `--vendor-keys: ${VENDOR_KEYS_GLOBAL} was not replaced in ${relative(ROOT, outfile)}; is it still read by ${VENDOR_KEYS_MODULE}?`,
      );
  }
  recordVendorKeys(outfile, vendor);
  return { outfile, warnings, metafile: result.metafile, vendorKeyIds: vendor.ids, vendorKeysSource: vendor.source };
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--sea") opts.sea = true;
    else if (a === "--entry") opts.entry = argv[++i];
    else if (a === "--outfile") opts.outfile = argv[++i];
    else if (a === "--vendor-keys") {
      if (!argv[i + 1])
        throw new Error(
          "--vendor-keys needs a FILE: a JSON array of {kid, publicKey} (npm run licensing -- keygen writes one)",
        );
      opts.vendorKeys = argv[++i];
    } else if (a === "--default-vendor-keys") opts.defaultVendorKeys = true;
    else
      throw new Error(
        `unknown argument ${a} (use --sea, --entry F, --outfile O, --vendor-keys FILE, --default-vendor-keys)`,
      );
  }
  return opts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const { outfile, vendorKeyIds, vendorKeysSource } = await bundle(parseArgs(process.argv.slice(2)));
    console.log(`bundle: ${relative(process.cwd(), outfile)}`);
    console.log(`bundle: vendor keys compiled in: ${vendorKeyIds.join(", ")} (${vendorKeysSource})`);
  } catch (err) {
    console.error(`bundle: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
