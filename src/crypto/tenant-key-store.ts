/**
 * Persistence of wrapped tenant DEKs, implemented by the database layer. Only wrapped bytes
 * cross this interface; plaintext DEKs never leave src/crypto.
 *
 * A DEK version may be wrapped under several master keys at once: during a master-key rotation
 * every DEK gains a wrap under the new master before the old master's wraps are removed
 * (retirement), so an installation configured with either key keeps reading everything.
 *
 * The tenant ids "_platform" and "_signing" are reserved (see crypto-service.ts).
 */
export interface KeyWrap {
  /** Label of the master key that wrapped the DEK. */
  readonly masterLabel: string;
  /** nonce(12) || ciphertext || tag, AAD = dekAad(tenantId, version) */
  readonly wrapped: Uint8Array;
}

export interface StoredTenantKey {
  readonly tenantId: string;
  readonly version: number;
  readonly wraps: readonly KeyWrap[];
  /** Retired versions have no wraps left: what they sealed is unreadable by design. */
  readonly status: "active" | "retired";
  /** Encryptions reserved under this version so far (an upper bound of those performed). */
  readonly encryptions: number;
  readonly createdAt: string;
}

export interface TenantKeyStore {
  listTenantKeys(tenantId: string): StoredTenantKey[];
  /** Must fail if (tenantId, version) already exists, so two writers cannot both create a version. */
  insertTenantKey(key: { tenantId: string; version: number; wraps: readonly KeyWrap[]; createdAt: string }): void;
  /** Adds wraps under further master keys, all in one transaction (ignores ones that exist). */
  addWraps(entries: readonly { tenantId: string; version: number; wraps: readonly KeyWrap[] }[]): void;
  /**
   * Atomically reserves `count` more encryptions under a version and returns the new total, so
   * every process holding the key gets a disjoint block and the stored count never falls behind.
   */
  reserveEncryptions(tenantId: string, version: number, count: number): number;
  /** Master keys marked retired: nothing is wrapped under them any more. */
  retiredMasterLabels(): ReadonlySet<string>;
}
