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

export interface KeyResolver {
  wrap(dek: Uint8Array, aad: Uint8Array): Promise<WrappedKey>;
  /** Throws a clear error naming the master label when it is not available or the key is wrong. */
  unwrap(wrapped: WrappedKey, aad: Uint8Array): Promise<Uint8Array>;
  describe(): ResolverInfo;
  /** Health probe for /readyz: resolves when the master key is usable, throws with a reason otherwise. */
  check(): Promise<void>;
}
