// Public surface of src/crypto: modules outside src/crypto import from here, nothing else
// (test/unit/architecture.test.ts; the one exception, the vendor-shared format modules that
// import ./ed25519.js alone, is named there). Keys are used through handles and never exported.
export type { AccessTokenKeys } from "./access-token-keys.js";
export { CryptoService, PLATFORM_TENANT_ID, SIGNING_PURPOSES, type FieldRef, type SigningPurpose } from "./crypto-service.js";
export * from "./ed25519.js";
export * from "./errors.js";
export { fieldKeyVersion } from "./field-cipher.js";
export { generateFileKey, unwrapFileKey, wrapFileKey, type FileKey } from "./file-key.js";
export { SUB_KEY_LABELS, type SubKeyLabel } from "./hkdf.js";
export type { KeyResolver, ResolverInfo, WrappedKey } from "./key-resolver.js";
export { MAC_PURPOSES, type MacKey, type MacPurpose } from "./mac-key.js";
export { MasterKeyRing } from "./master-key-ring.js";
export { EnvKeyResolver, generateMasterKeyFile } from "./resolvers/env.js";
export { openStream, sealStream, STREAM_NONCE_PREFIX_BYTES, STREAM_TAG_BYTES, type StreamParams } from "./stream-cipher.js";
export type { StoredTenantKey, TenantKeyStore } from "./tenant-key-store.js";
