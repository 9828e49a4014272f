// Public surface of src/crypto: modules outside src/crypto import from here, nothing else
// (test/unit/architecture.test.ts; the one exception, the vendor-shared format modules that
// import ./ed25519.js alone, is named there). Keys are used through handles and never exported.
export type { AccessTokenKeys } from "./access-token-keys.js";
// The stream cipher's buffer, also the backup container's (crypto may import nothing above it).
export { ByteQueue } from "./byte-queue.js";
export {
  CryptoService,
  PLATFORM_TENANT_ID,
  SIGNING_PURPOSES,
  type FieldRef,
  type SigningPurpose,
} from "./crypto-service.js";
// Not ed25519SignerFromSeed, readEd25519SignerFile or writeNewEd25519KeyFiles: seeds and key files stay inside
// src/crypto (the vendor tool, which must not load the crypto service, imports ./ed25519.js itself).
export {
  checkEd25519PublicKey,
  decodeBase64Strict,
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  encodePublicKey,
  generateEd25519Signer,
  KeyFormatError,
  keyIdOf,
  parsePublicKey,
  verifyEd25519,
  type Ed25519Signer,
} from "./ed25519.js";
export * from "./errors.js";
export { fieldKeyVersion } from "./field-cipher.js";
export { generateFileKey, unwrapFileKey, wrapFileKey, type FileKey } from "./file-key.js";
export { SUB_KEY_LABELS, type SubKeyLabel } from "./hkdf.js";
export type { KeyResolver, ResolverInfo, TokenRecords, WrappedKey } from "./key-resolver.js";
export { MAC_PURPOSES, type MacKey, type MacPurpose } from "./mac-key.js";
export { MasterKeyRing } from "./master-key-ring.js";
export { EnvKeyResolver, generateMasterKeyFile } from "./resolvers/env.js";
export { generateHsmMasterKey, Pkcs11KeyResolver } from "./resolvers/pkcs11.js";
export { replaceFile } from "./secret-file.js";
export {
  openStream,
  sealStream,
  STREAM_NONCE_PREFIX_BYTES,
  STREAM_TAG_BYTES,
  type StreamParams,
} from "./stream-cipher.js";
export type { KeyWrap, StoredTenantKey, TenantKeyStore } from "./tenant-key-store.js";
export {
  CERT_WARN_DAYS,
  checkTlsPair,
  daysLeft,
  describeCertificate,
  expiryWarning,
  generateSelfSignedCertificate,
  regenerateSelfSignedCertificate,
  selfSignedNames,
  TlsPairError,
  type CertificateSummary,
} from "./tls-certificate.js";
