/**
 * The vendor public keys licenses are verified with, compiled into the binary (never read from
 * configuration or the data directory: a configurable trust anchor would let anyone sign their
 * own license). Several keys may be listed, by key id, so the vendor can rotate: a new key is
 * added to a release first, licenses are signed with it once customers run that release, and an
 * old key is removed when no license it signed is still in use.
 *
 * kid = the first 16 hex digits of SHA-256 of the raw 32-byte public key; src/license/format.ts
 * refuses an entry whose kid does not match its key.
 *
 * The list is a BUILD INPUT: a release is built with the vendor's keys,
 * `npm run build:appliance -- --vendor-keys FILE`. appliance/bundle.mjs checks FILE with
 * format.ts's trustedKeyMap (the check verification applies) and compiles it in as the global
 * __VECTO_VENDOR_KEYS__ (esbuild `define`; docs/appliance-build.md). Without it (dev builds,
 * vitest, tsx) the default list below is used.
 *
 * The default entry was generated with `npm run licensing -- keygen` when licensing was
 * implemented; its private half was not kept (it never entered the repository and was deleted
 * after generation), so no license signed with it exists or can exist. Keep the list non-empty: an
 * empty list means no license can ever be valid (the build refuses an empty --vendor-keys file).
 */
import type { VendorKey } from "./format.js";

export const DEFAULT_VENDOR_KEYS: readonly VendorKey[] = Object.freeze([
  // vecto-license-2026a: generated at implementation time; private key discarded. A release compiles in the vendor's
  // keys instead.
  Object.freeze({ kid: "0cce3f29e659008c", publicKey: "UFVN6q9TgLFsJIZJPIqVdKzhifQL0YDpCy78sogO6kE=" }),
]);

/** What this build trusts: the list given to the build with --vendor-keys, else the default. */
export const VENDOR_KEYS: readonly VendorKey[] =
  typeof __VECTO_VENDOR_KEYS__ === "undefined"
    ? DEFAULT_VENDOR_KEYS
    : Object.freeze(__VECTO_VENDOR_KEYS__.map((k) => Object.freeze({ kid: k.kid, publicKey: k.publicKey })));
