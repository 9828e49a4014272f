/**
 * Appliance self-check: proves the three native addons load inside the single binary.
 *
 * Built by `node appliance/build-sea.mjs --probe` into dist/probe/vecto-probe and run by
 * test/e2e/appliance.test.ts from an empty directory. Prints one JSON line and exits 0, or one
 * error line and exits 1. Cache dir: CACHE_DIRECTORY, else VECTO_CACHE_DIR, else ./data/cache.
 * If VECTO_PKCS11_LIB is set, the module is also loaded and initialized (e.g. SoftHSM2).
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { configureNativeAddons, nativeAddonDir, sqliteNativeBinding } from "../../src/native/addons.js";

async function main(): Promise<void> {
  const cacheDir =
    process.env.CACHE_DIRECTORY?.split(":")[0] || process.env.VECTO_CACHE_DIR || join(process.cwd(), "data", "cache");
  configureNativeAddons({ cacheDir });

  // @types/better-sqlite3 types nativeBinding as a path only; better-sqlite3 12 also takes the addon object.
  const binding = sqliteNativeBinding();
  const db = new Database(":memory:", binding ? { nativeBinding: binding as unknown as string } : {});
  const row = db.prepare("select sqlite_version() as v, 6 * 7 as answer").get() as { v: string; answer: number };
  db.close();

  const argon2 = await import("argon2");
  const phc = await argon2.hash("correct horse", {
    type: argon2.argon2id,
    memoryCost: 19 * 1024,
    timeCost: 2,
    parallelism: 1,
  });
  const argonOk = (await argon2.verify(phc, "correct horse")) && !(await argon2.verify(phc, "wrong"));

  const { PKCS11 } = await import("pkcs11js");
  const p11 = new PKCS11();
  let pkcs11Info: string | undefined;
  const lib = process.env.VECTO_PKCS11_LIB;
  if (lib) {
    p11.load(lib);
    p11.C_Initialize();
    try {
      pkcs11Info = p11.C_GetInfo().libraryDescription.trim();
    } finally {
      p11.C_Finalize();
    }
  }

  console.log(
    JSON.stringify({
      ok: row.answer === 42 && argonOk,
      sqlite: row.v,
      argon2: argonOk,
      pkcs11: typeof p11.C_Initialize === "function",
      pkcs11Info,
      addonDir: nativeAddonDir(),
      node: process.version,
    }),
  );
}

main().catch((err: unknown) => {
  console.error(`vecto-probe: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
