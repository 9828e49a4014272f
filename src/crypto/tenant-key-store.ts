/**
 * Persistence of wrapped tenant DEKs, implemented by the database layer. Only wrapped bytes
 * cross this interface; plaintext DEKs never leave src/crypto.
 *
 * The tenant id "_platform" is reserved: it holds the installation root secret from which
 * CryptoService.subKey derives platform sub-keys (see crypto-service.ts).
 */
export interface StoredTenantKey {
  tenantId: string;
  version: number;
  /** Label of the master key that wrapped this DEK (old labels remain valid for unwrapping). */
  masterLabel: string;
  /** nonce(12) || ciphertext || tag, AAD = dekAad(tenantId, version) */
  wrapped: Uint8Array;
  status: "active" | "retired";
  createdAt: string;
}

export interface TenantKeyStore {
  listTenantKeys(tenantId: string): StoredTenantKey[];
  /** Must fail if (tenantId, version) already exists, so two writers cannot both create a version. */
  insertTenantKey(key: StoredTenantKey): void;
}
