/**
 * The master-key (KEK) seam. A resolver wraps and unwraps data keys; it never hands out the
 * master key itself (with pkcs11 it cannot: the key is non-extractable inside the HSM).
 */

export interface WrappedKey {
  /** Which master key wrapped this blob, so a later unwrap can name what it needs. */
  readonly masterLabel: string;
  /** nonce(12) || ciphertext || tag(16) */
  readonly blob: Uint8Array;
}

export interface ResolverInfo {
  readonly kind: "env" | "pkcs11";
  readonly masterLabel: string;
  /** Operator-facing facts (file path, token label, ...). Never key material. */
  readonly detail: Record<string, string>;
}

/**
 * Small records kept inside the master key's token, beside the key: state that must survive
 * someone putting back an older copy of the whole data directory (the audit log's newest tree
 * size and root, src/audit/anchor.ts). Only resolvers whose key lives in a token have it (pkcs11);
 * a key file lives on the same box as the data, so env has none.
 */
export interface TokenRecords {
  /** For messages: which token, never a path or a PIN. */
  readonly where: string;
  /** Every value stored under the name (normally one; two after a crash between a replace's steps). */
  read(name: string): Promise<Uint8Array[]>;
  /**
   * Stores value under name, then removes the older values under that name that `supersedes`
   * says it replaces. Never an in-place edit: a crash leaves the old value or both, not half of one.
   */
  replace(name: string, value: Uint8Array, supersedes: (older: Uint8Array) => boolean): Promise<void>;
}

export interface KeyResolver {
  wrap(dek: Uint8Array, aad: Uint8Array): Promise<WrappedKey>;
  /** Throws a clear error naming the master label when it is not available or the key is wrong. */
  unwrap(wrapped: WrappedKey, aad: Uint8Array): Promise<Uint8Array>;
  describe(): ResolverInfo;
  /** Health probe for /readyz: resolves when the master key is usable, throws with a reason otherwise. */
  check(): Promise<void>;
  /** Records in the key's token; absent for resolvers without one. */
  readonly tokenRecords?: TokenRecords | undefined;
}
