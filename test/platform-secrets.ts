/**
 * What someone holding the master key and the keystore can compute: the installation's platform
 * sub-keys and the secrets derived from them, which CryptoService itself never hands out. Tests
 * use it to forge tokens with the real key (an attacker who has both), and to pin the derivation:
 * HKDF-SHA256 of the newest "_platform" root secret, then HMAC-SHA256 of a context (a JWT kid).
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { PLATFORM_TENANT_ID } from "../src/crypto/crypto-service.js";
import { dekAad } from "../src/crypto/field-cipher.js";
import { deriveKey, type SubKeyLabel } from "../src/crypto/hkdf.js";
import type { KeyResolver } from "../src/crypto/key-resolver.js";
import type { TenantKeyStore } from "../src/crypto/tenant-key-store.js";

export async function platformSubKey(
  masterKey: KeyResolver,
  store: TenantKeyStore,
  label: SubKeyLabel,
): Promise<Uint8Array> {
  const root = store
    .listTenantKeys(PLATFORM_TENANT_ID)
    .filter((k) => k.status === "active")
    .sort((a, b) => b.version - a.version)[0];
  const wrap = root?.wraps[0];
  if (root === undefined || wrap === undefined) throw new Error("the installation has no platform root secret yet");
  return deriveKey(
    await masterKey.unwrap(
      { masterLabel: wrap.masterLabel, blob: wrap.wrapped },
      dekAad(PLATFORM_TENANT_ID, root.version),
    ),
    label,
  );
}

/** The HS256 secret of access-token key `kid`. */
export async function accessTokenSecret(
  masterKey: KeyResolver,
  store: TenantKeyStore,
  kid: string,
): Promise<Uint8Array> {
  return hmac(sha256, await platformSubKey(masterKey, store, "jwt"), new TextEncoder().encode(`kid:${kid}`));
}
