// Public surface of src/crypto. Modules outside src/crypto import from here.
export { aead, type Aead } from "./aead.js";
export { CryptoService, PLATFORM_TENANT_ID, type FieldRef } from "./crypto-service.js";
export * from "./errors.js";
export { dekAad, fieldAad, fieldKeyVersion, openField, sealField } from "./field-cipher.js";
export { deriveKey, SUB_KEY_LABELS, type SubKeyLabel } from "./hkdf.js";
export type { KeyResolver, ResolverInfo, WrappedKey } from "./key-resolver.js";
export { EnvKeyResolver, generateMasterKeyFile } from "./resolvers/env.js";
export type { StoredTenantKey, TenantKeyStore } from "./tenant-key-store.js";
