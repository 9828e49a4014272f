// Globals that appliance/bundle.mjs replaces at build time (esbuild `define`). Never set at run
// time: outside a bundle built with them (vitest, tsx, a default `npm run build`) they are
// undeclared, so read them only behind `typeof X === "undefined"`.

/**
 * The vendor public keys licenses are verified with, from `--vendor-keys FILE` (validated by the
 * build: kid = first 16 hex digits of SHA-256 of the raw key, publicKey = raw 32 bytes in base64).
 * See src/license/vendor-keys.ts and docs/appliance-build.md.
 */
declare const __VECTO_VENDOR_KEYS__: readonly { readonly kid: string; readonly publicKey: string }[] | undefined;
