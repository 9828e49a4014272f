import { randomBytes } from "node:crypto";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { AEAD_KEY_BYTES } from "./aead-params.js";
import { CryptoParamError, TenantKeyError } from "./errors.js";
import { dekAad, fieldAad, fieldKeyVersion, openField, sealField } from "./field-cipher.js";
import { deriveKey, isSubKeyLabel, type SubKeyLabel } from "./hkdf.js";
import type { KeyResolver } from "./key-resolver.js";
import type { StoredTenantKey, TenantKeyStore } from "./tenant-key-store.js";

/**
 * Reserved TenantKeyStore id holding the installation root secret (32 random bytes, stored only
 * wrapped under the master key like any DEK). CryptoService.subKey derives every platform
 * sub-key from it with HKDF. Tenant ids starting with "_" are rejected by the tenant methods,
 * so no tenant can collide with it.
 */
export const PLATFORM_TENANT_ID = "_platform";

/** Reserved keystore id of the installation's Ed25519 signing seed. */
export const SIGNING_KEY_ID = "_signing";

/** Where a content field lives; part of its AAD, so a ciphertext cannot be moved elsewhere. */
export interface FieldRef {
  readonly table: string;
  readonly column: string;
  readonly rowId: string;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true });
const SEP = "\u0000";

function checkTenantId(tenantId: string): void {
  if (typeof tenantId !== "string" || tenantId.length === 0) {
    throw new CryptoParamError("tenant id must be a non-empty string");
  }
  if (tenantId.startsWith("_")) throw new CryptoParamError(`tenant id ${tenantId} is reserved`);
}

function newestActiveVersion(keys: readonly StoredTenantKey[]): number | undefined {
  let newest: number | undefined;
  for (const k of keys) if (k.status === "active" && (newest === undefined || k.version > newest)) newest = k.version;
  return newest;
}

/**
 * Envelope encryption for tenant content and the platform's sub-keys: the only entry point to
 * encryption for code outside src/crypto.
 *
 * Caching: unwrapped DEKs and each tenant's write version are kept in memory so the hot path
 * neither calls the resolver (possibly an HSM round trip) nor the store. Whoever changes a
 * tenant's keys outside this class (retiring a version, master rotation re-wrap) must call
 * forgetTenant afterwards.
 */
export class CryptoService {
  readonly #resolver: KeyResolver;
  readonly #store: TenantKeyStore;
  readonly #deks = new Map<string, Uint8Array>();
  readonly #pending = new Map<string, Promise<Uint8Array>>();
  readonly #writeVersions = new Map<string, number>();
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(resolver: KeyResolver, store: TenantKeyStore) {
    this.#resolver = resolver;
    this.#store = store;
  }

  /** Adds a new DEK version for the tenant; new writes use it from now on. */
  async createTenantKey(tenantId: string): Promise<number> {
    checkTenantId(tenantId);
    return this.#serialized(tenantId, () => this.#createKey(tenantId));
  }

  async encryptField(tenantId: string, ref: FieldRef, plaintext: string): Promise<Uint8Array> {
    checkTenantId(tenantId);
    const version = this.#writeVersion(tenantId);
    const dek = await this.#dek(tenantId, version);
    return sealField(dek, version, utf8Encoder.encode(plaintext), fieldAad(tenantId, ref.table, ref.column, ref.rowId));
  }

  /** Throws DecryptError if the ciphertext was tampered with or belongs to another place. */
  async decryptField(tenantId: string, ref: FieldRef, sealed: Uint8Array): Promise<string> {
    checkTenantId(tenantId);
    const dek = await this.#dek(tenantId, fieldKeyVersion(sealed));
    const aad = fieldAad(tenantId, ref.table, ref.column, ref.rowId);
    return utf8Decoder.decode(openField(() => dek, sealed, aad));
  }

  /**
   * Drops the tenant's cached DEKs and write version. References are dropped, not zeroed: an
   * operation already holding the key may still be using it.
   */
  forgetTenant(tenantId: string): void {
    const prefix = tenantId + SEP;
    for (const map of [this.#deks, this.#pending]) {
      for (const k of [...map.keys()]) if (k.startsWith(prefix)) map.delete(k);
    }
    this.#writeVersions.delete(tenantId);
  }

  /**
   * A platform sub-key for one purpose, derived from the installation root secret (created on
   * first use). Derived from the newest active "_platform" version: adding one changes every
   * sub-key, so that is a deliberate migration, never routine rotation. Returns a fresh copy.
   */
  async subKey(label: SubKeyLabel): Promise<Uint8Array> {
    if (!isSubKeyLabel(label)) throw new CryptoParamError("unknown sub-key label");
    const version =
      this.#cachedOrStoredVersion(PLATFORM_TENANT_ID) ??
      (await this.#serialized(PLATFORM_TENANT_ID, () => this.#ensurePlatformRoot()));
    return deriveKey(await this.#dek(PLATFORM_TENANT_ID, version), label);
  }

  /**
   * A keyed hash for finding a row by an encrypted value (a blind index, e.g. a login email):
   * HMAC-SHA256 under the "search-index" sub-key over (purpose, tenant, value). Equal inputs give
   * equal outputs, so it reveals equality within a tenant and nothing else.
   */
  async blindIndex(tenantId: string, purpose: string, value: string): Promise<Uint8Array> {
    const key = await this.subKey("search-index");
    return hmac(sha256, key, utf8Encoder.encode(purpose + SEP + tenantId + SEP + value));
  }

  /** A secret for one member of a family (e.g. one JWT signing key per kid): HMAC of the context under the label's sub-key. */
  async derivedSecret(label: SubKeyLabel, context: string): Promise<Uint8Array> {
    return hmac(sha256, await this.subKey(label), utf8Encoder.encode(context));
  }

  /**
   * An HMAC-SHA256 function under the label's sub-key (e.g. the audit trail's signatures). The key
   * stays inside the returned closure: callers can sign, never read it.
   */
  async macFunction(label: SubKeyLabel): Promise<(data: Uint8Array) => Uint8Array> {
    const key = await this.subKey(label);
    return (data) => hmac(sha256, key, data);
  }

  /**
   * The installation's Ed25519 signing seed (32 random bytes), stored wrapped under the reserved
   * id "_signing" like any data key, created on first use. It signs audit checkpoints and usage
   * reports; only its public half ever leaves the process.
   */
  async signingSeed(): Promise<Uint8Array> {
    const version = this.#cachedOrStoredVersion(SIGNING_KEY_ID) ?? (await this.#serialized(SIGNING_KEY_ID, async () => this.#cachedOrStoredVersion(SIGNING_KEY_ID) ?? this.#createKey(SIGNING_KEY_ID)));
    return (await this.#dek(SIGNING_KEY_ID, version)).slice();
  }

  async #ensurePlatformRoot(): Promise<number> {
    return this.#cachedOrStoredVersion(PLATFORM_TENANT_ID) ?? this.#createKey(PLATFORM_TENANT_ID);
  }

  async #createKey(tenantId: string): Promise<number> {
    const existing = this.#store.listTenantKeys(tenantId);
    const version = existing.reduce((max, k) => Math.max(max, k.version), 0) + 1;
    const dek = new Uint8Array(randomBytes(AEAD_KEY_BYTES));
    const wrapped = await this.#resolver.wrap(dek, dekAad(tenantId, version));
    this.#store.insertTenantKey({
      tenantId,
      version,
      masterLabel: wrapped.masterLabel,
      wrapped: wrapped.blob,
      status: "active",
      createdAt: new Date().toISOString(),
    });
    this.#deks.set(tenantId + SEP + version, dek);
    this.#writeVersions.set(tenantId, version);
    return version;
  }

  #cachedOrStoredVersion(tenantId: string): number | undefined {
    const cached = this.#writeVersions.get(tenantId);
    if (cached !== undefined) return cached;
    const stored = newestActiveVersion(this.#store.listTenantKeys(tenantId));
    if (stored !== undefined) this.#writeVersions.set(tenantId, stored);
    return stored;
  }

  #writeVersion(tenantId: string): number {
    const version = this.#cachedOrStoredVersion(tenantId);
    if (version === undefined) throw new TenantKeyError(`tenant ${tenantId} has no active data key`);
    return version;
  }

  /** Cache hit stays synchronous apart from the await; concurrent misses share one unwrap. */
  async #dek(tenantId: string, version: number): Promise<Uint8Array> {
    const id = tenantId + SEP + version;
    const cached = this.#deks.get(id);
    if (cached !== undefined) return cached;
    const inFlight = this.#pending.get(id);
    if (inFlight !== undefined) return inFlight;
    const unwrapping = this.#unwrapStored(tenantId, version);
    this.#pending.set(id, unwrapping);
    try {
      const dek = await unwrapping;
      // Skip caching if forgetTenant ran while the resolver was busy.
      if (this.#pending.get(id) === unwrapping) this.#deks.set(id, dek);
      return dek;
    } finally {
      if (this.#pending.get(id) === unwrapping) this.#pending.delete(id);
    }
  }

  async #unwrapStored(tenantId: string, version: number): Promise<Uint8Array> {
    const stored = this.#store.listTenantKeys(tenantId).find((k) => k.version === version);
    if (stored === undefined || stored.tenantId !== tenantId) {
      throw new TenantKeyError(`tenant ${tenantId} has no data key version ${version}`);
    }
    if (stored.status === "retired") {
      throw new TenantKeyError(`data key version ${version} of tenant ${tenantId} is retired`);
    }
    const wrapped = { masterLabel: stored.masterLabel, blob: stored.wrapped };
    const dek = await this.#resolver.unwrap(wrapped, dekAad(tenantId, version));
    if (dek.length !== AEAD_KEY_BYTES) {
      throw new TenantKeyError(`data key version ${version} of tenant ${tenantId} has the wrong length`);
    }
    return dek;
  }

  /** Runs fn after earlier calls for the same tenant: version numbers are read-then-written. */
  async #serialized<T>(tenantId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(tenantId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(tenantId, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(tenantId) === tail) this.#locks.delete(tenantId);
    }
  }
}
