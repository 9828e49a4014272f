/**
 * Native addons (better-sqlite3, argon2, pkcs11js).
 *
 * Under `node` they load from node_modules as usual. Inside the single binary (Node SEA) there is
 * no node_modules: the addons travel as SEA assets and are extracted, sha256-checked and dlopen'ed
 * by ./loader.ts (the bundle step in appliance/ rewires argon2's and pkcs11js's own addon requires
 * to it). This module is the one seam the rest of the code uses.
 */
import { inSea, loadNativeAddon } from "./loader.js";

export { configureNativeAddons, nativeAddonDir, NativeAddonError } from "./loader.js";

/** The better-sqlite3 addon object to pass as its `nativeBinding` option, or undefined outside the binary. */
export function sqliteNativeBinding(): object | undefined {
  return inSea() ? loadNativeAddon("better_sqlite3") : undefined;
}
