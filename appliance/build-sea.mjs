#!/usr/bin/env node
// Build the single binary dist/vecto (Node SEA, linux-x64) with the very node that runs this script.
// See docs/appliance-build.md.
//
//   node appliance/build-sea.mjs            -> dist/vecto               (entry src/main.ts)
//   node appliance/build-sea.mjs --probe    -> dist/probe/vecto-probe   (entry appliance/probe/main.ts, addon self-check)
//   node appliance/build-sea.mjs --entry F --binary B                    (any other entry; work files next to B)
//   ... --vendor-keys FILE   the vendor's license keys to compile in (a release; see bundle.mjs)
//   ... --default-vendor-keys   the default list, even where an earlier build used --vendor-keys (which stick otherwise)
//
// Steps: esbuild bundle (--sea mode) -> sea-config.json with the three native addons + a sha256
// manifest as assets -> `node --experimental-sea-config` -> copy process.execPath -> postject the
// blob (NODE_SEA_BLOB, sentinel fuse NODE_SEA_FUSE_...) -> chmod 0755.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { bundle } from "./bundle.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SENTINEL_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const MANIFEST_ASSET = "native/manifest.json"; // keep in sync with src/native/loader.ts

const TARGETS = {
  main: { entry: "src/main.ts", workDir: "dist/sea", binary: "dist/vecto" },
  probe: { entry: "appliance/probe/main.ts", workDir: "dist/probe", binary: "dist/probe/vecto-probe" },
};

/** Absolute paths of the installed addons (build time only: require.resolve is fine here). */
export function locateAddons() {
  const rootRequire = createRequire(join(ROOT, "package.json"));
  const pkgDir = (name) => dirname(rootRequire.resolve(`${name}/package.json`));

  const sqliteDir = pkgDir("better-sqlite3");
  const argonDir = pkgDir("argon2");
  const pkcsDir = pkgDir("pkcs11js");
  // argon2 picks its addon with node-gyp-build (build/Release first, then prebuilds/): ask it the same question.
  const gypBuild = createRequire(join(argonDir, "package.json"))("node-gyp-build");

  const addons = {
    better_sqlite3: join(sqliteDir, "build", "Release", "better_sqlite3.node"),
    argon2: gypBuild.resolve(argonDir),
    pkcs11: join(pkcsDir, "build", "Release", "pkcs11.node"),
  };
  for (const [name, file] of Object.entries(addons)) {
    if (!existsSync(file)) throw new Error(`addon ${name} not found at ${file} (npm ci with install scripts allowed?)`);
    // It must load in THIS node (same ABI as the binary we are about to make).
    try {
      process.dlopen({ exports: {} }, file);
    } catch (err) {
      throw new Error(`addon ${name} (${file}) does not load in ${process.version}: ${err.message}`);
    }
  }
  return addons;
}

function sha256(buf) {
  return createHash("sha256").update(buf).digest("hex");
}

function mib(n) {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * @param {{ target?: "main" | "probe", entry?: string, binary?: string, vendorKeys?: string, defaultVendorKeys?: boolean, useCodeCache?: boolean, quiet?: boolean }} [opts]
 * @returns {Promise<{ binary: string, size: number, manifest: object }>}
 */
export async function buildSea(opts = {}) {
  const t0 = Date.now();
  const target = opts.entry
    ? {
        entry: opts.entry,
        binary: opts.binary ?? "dist/custom/vecto",
        workDir: dirname(opts.binary ?? "dist/custom/vecto"),
      }
    : TARGETS[opts.target ?? "main"];
  if (!target) throw new Error(`unknown target ${opts.target}`);
  if (process.platform !== "linux")
    throw new Error(`the appliance binary is built on linux (this is ${process.platform})`);
  const log = opts.quiet ? () => {} : (m) => console.log(`build-sea: ${m}`);

  const workDir = join(ROOT, target.workDir);
  const binary = join(ROOT, target.binary);
  mkdirSync(workDir, { recursive: true });

  // 1. bundle
  const main = join(workDir, "vecto.cjs");
  const { vendorKeyIds, vendorKeysSource } = await bundle({
    sea: true,
    entry: target.entry,
    outfile: main,
    vendorKeys: opts.vendorKeys,
    defaultVendorKeys: opts.defaultVendorKeys,
    quiet: opts.quiet,
  });
  log(`bundled ${target.entry} -> ${relative(ROOT, main)} (${(statSync(main).size / 1024).toFixed(0)} KiB)`);
  log(`vendor keys compiled in: ${vendorKeyIds.join(", ")} (${vendorKeysSource})`);

  // 2. addons + manifest
  const addons = locateAddons();
  const manifest = { format: 1, node: process.version, modules: process.versions.modules, addons: {} };
  const assets = {};
  for (const [name, file] of Object.entries(addons)) {
    const bytes = readFileSync(file);
    const asset = `native/${name}.node`;
    manifest.addons[name] = { asset, sha256: sha256(bytes), size: bytes.length };
    assets[asset] = file;
    log(`asset ${asset} <- ${relative(ROOT, file)} sha256 ${manifest.addons[name].sha256.slice(0, 16)}…`);
  }
  const manifestFile = join(workDir, "native-manifest.json");
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  assets[MANIFEST_ASSET] = manifestFile;

  // 3. preparation blob
  const blob = join(workDir, "sea-prep.blob");
  const seaConfig = join(workDir, "sea-config.json");
  writeFileSync(
    seaConfig,
    `${JSON.stringify(
      {
        main,
        output: blob,
        disableExperimentalSEAWarning: true,
        useSnapshot: false,
        useCodeCache: opts.useCodeCache ?? true,
        assets,
      },
      null,
      2,
    )}\n`,
  );
  rmSync(blob, { force: true });
  execFileSync(process.execPath, ["--experimental-sea-config", seaConfig], {
    cwd: workDir,
    stdio: opts.quiet ? "pipe" : "inherit",
  });
  if (!existsSync(blob)) throw new Error(`node --experimental-sea-config did not write ${blob}`);

  // 4. copy this node and inject the blob (no signature to remove on linux)
  rmSync(binary, { force: true });
  mkdirSync(dirname(binary), { recursive: true });
  copyFileSync(process.execPath, binary);
  chmodSync(binary, 0o755);
  const { inject } = (await import("postject")).default;
  await inject(binary, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: SENTINEL_FUSE, overwrite: true });
  chmodSync(binary, 0o755);

  const size = statSync(binary).size;
  log(
    `${relative(ROOT, binary)}: ${mib(size)} (${size} bytes), node ${process.version}, ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  return { binary, size, manifest, vendorKeyIds };
}

function parseArgs(argv) {
  const opts = { target: "main", useCodeCache: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--probe") opts.target = "probe";
    else if (a === "--no-code-cache") opts.useCodeCache = false;
    else if (a === "--entry" && argv[i + 1]) opts.entry = argv[++i];
    else if (a === "--binary" && argv[i + 1]) opts.binary = argv[++i];
    else if (a === "--vendor-keys") {
      if (!argv[i + 1])
        throw new Error(
          "--vendor-keys needs a FILE: a JSON array of {kid, publicKey} (npm run licensing -- keygen writes one)",
        );
      opts.vendorKeys = argv[++i];
    } else if (a === "--default-vendor-keys") opts.defaultVendorKeys = true;
    else
      throw new Error(
        `unknown argument ${a} (use --probe, --no-code-cache, --entry F --binary B, --vendor-keys FILE, --default-vendor-keys)`,
      );
  }
  if (opts.binary && !opts.entry) throw new Error("--binary needs --entry");
  return opts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    await buildSea(parseArgs(process.argv.slice(2)));
  } catch (err) {
    console.error(`build-sea: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
