import { randomBytes } from "node:crypto";
import { AccessTokenKeys } from "./access-token-keys.js";
import { hmacSha256 } from "./hmac-sha256.js";
import { AEAD_KEY_BYTES } from "./aead-params.js";
import { ed25519SignerFromSeed, type Ed25519Signer } from "./ed25519.js";
import { CryptoParamError, FileKeyError, isKeyUnavailable, MasterKeyRetiredError, TenantKeyError } from "./errors.js";
import { dekAad, fieldAad, fieldKeyVersion, openField, sealField } from "./field-cipher.js";
import { fileKeyBytes, fileKeyFromBytes, type FileKey } from "./file-key.js";
import { deriveKey, isSubKeyLabel, type SubKeyLabel } from "./hkdf.js";
import type { KeyResolver } from "./key-resolver.js";
import { isMacPurpose, MacKey, type MacPurpose } from "./mac-key.js";
import { MasterKeyRing } from "./master-key-ring.js";
import type { KeyWrap, StoredTenantKey, TenantKeyStore } from "./tenant-key-store.js";

/**
 * Reserved TenantKeyStore id holding the installation root secret (32 random bytes, stored only
 * wrapped under the master key like any DEK). CryptoService.subKey derives every platform
 * sub-key from it with HKDF. Tenant ids starting with "_" are rejected by the tenant methods,
 * so no tenant can collide with it.
 */
export const PLATFORM_TENANT_ID = "_platform";

/** Reserved keystore id of the installation's Ed25519 signing seed. */
export const SIGNING_KEY_ID = "_signing";

/**
 * What the installation's Ed25519 key signs. Both are served by the one installation key: its public
 * half is what auditors (checkpoint verifier key) and the vendor (usage reports) already pin. Naming
 * the purpose keeps every signing call site greppable and reviewable here.
 */
export const SIGNING_PURPOSES = ["audit-checkpoint", "usage-report"] as const;
export type SigningPurpose = (typeof SIGNING_PURPOSES)[number];

/**
 * With 96-bit random nonces, NIST SP 800-38D bounds one key to 2^32 encryptions. A data key is
 * rotated automatically once 2^30 are reserved under it: a quarter of the bound.
 */
export const DEFAULT_MAX_ENCRYPTIONS_PER_KEY = 2 ** 30;
/** Encryptions reserved per keystore write: the count is exact to within one block per process. */
export const DEFAULT_RESERVATION_BLOCK = 1024;
/** Data keys re-wrapped per keystore transaction during a master rotation. */
const REWRAP_BATCH = 500;

export interface CryptoServiceOptions {
  readonly maxEncryptionsPerKey?: number;
  readonly reservationBlock?: number;
  /** Told when a data key was rotated because its encryption budget ran out (for the audit trail). */
  readonly onForcedRotation?: (tenantId: string, newVersion: number) => void;
}

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
  readonly #ring: MasterKeyRing;
  readonly #store: TenantKeyStore;
  readonly #deks = new Map<string, Uint8Array>();
  /** Platform sub-keys by label and root version: HKDF once, not on every blind index. */
  readonly #subKeys = new Map<string, Uint8Array>();
  readonly #pending = new Map<string, Promise<Uint8Array>>();
  readonly #writeVersions = new Map<string, number>();
  readonly #budgets = new Map<string, { next: number; end: number }>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #maxEncryptions: number;
  readonly #block: number;
  readonly #onForcedRotation: (tenantId: string, newVersion: number) => void;
  #signer: Promise<Ed25519Signer> | undefined;

  constructor(resolver: KeyResolver, store: TenantKeyStore, options: CryptoServiceOptions = {}) {
    this.#ring = resolver instanceof MasterKeyRing ? resolver : new MasterKeyRing(resolver);
    this.#store = store;
    this.#maxEncryptions = options.maxEncryptionsPerKey ?? DEFAULT_MAX_ENCRYPTIONS_PER_KEY;
    this.#block = Math.min(options.reservationBlock ?? DEFAULT_RESERVATION_BLOCK, this.#maxEncryptions);
    this.#onForcedRotation = options.onForcedRotation ?? (() => undefined);
  }

  /** The master keys in use: rotation adds to it and promotes. */
  get masterKeys(): MasterKeyRing {
    return this.#ring;
  }

  /** Adds a new DEK version for the tenant; new writes use it from now on. */
  async createTenantKey(tenantId: string): Promise<number> {
    checkTenantId(tenantId);
    return this.#serialized(tenantId, () => this.#createKey(tenantId));
  }

  /** The version new writes of the tenant use; undefined before it has keys. */
  writeVersion(tenantId: string): number | undefined {
    checkTenantId(tenantId);
    return this.#cachedOrStoredVersion(tenantId);
  }

  async encryptField(tenantId: string, ref: FieldRef, plaintext: string): Promise<Uint8Array> {
    checkTenantId(tenantId);
    const version = await this.#reserveEncryption(tenantId);
    const dek = await this.#dek(tenantId, version);
    return sealField(dek, version, utf8Encoder.encode(plaintext), fieldAad(tenantId, ref.table, ref.column, ref.rowId));
  }

  /**
   * Re-seals a field under the tenant's write version (after a data-key rotation); null when it
   * is sealed under that version already.
   */
  async reencryptField(tenantId: string, ref: FieldRef, sealed: Uint8Array): Promise<Uint8Array | null> {
    if (fieldKeyVersion(sealed) === this.writeVersion(tenantId)) return null;
    return this.encryptField(tenantId, ref, await this.decryptField(tenantId, ref, sealed));
  }

  /** Throws DecryptError if the ciphertext was tampered with or belongs to another place. */
  async decryptField(tenantId: string, ref: FieldRef, sealed: Uint8Array): Promise<string> {
    checkTenantId(tenantId);
    const version = fieldKeyVersion(sealed);
    // A key already unwrapped is used as it is, without a turn of the microtask queue per field.
    const dek = this.#deks.get(tenantId + SEP + version) ?? (await this.#dek(tenantId, version));
    const aad = fieldAad(tenantId, ref.table, ref.column, ref.rowId);
    return utf8Decoder.decode(openField(() => dek, sealed, aad));
  }

  /**
   * A backup file key sealed under the tenant's data key, as a content field at `ref` (its base64 is the field's text).
   */
  async sealFileKey(tenantId: string, ref: FieldRef, key: FileKey): Promise<Uint8Array> {
    return this.encryptField(tenantId, ref, Buffer.from(fileKeyBytes(key)).toString("base64"));
  }

  /** Opens what sealFileKey sealed: throws what decryptField throws, or FileKeyError for a key of the wrong length. */
  async openFileKey(tenantId: string, ref: FieldRef, sealed: Uint8Array): Promise<FileKey> {
    const bytes = new Uint8Array(Buffer.from(await this.decryptField(tenantId, ref, sealed), "base64"));
    if (bytes.length !== AEAD_KEY_BYTES) throw new FileKeyError(`a file key is ${AEAD_KEY_BYTES} bytes`);
    return fileKeyFromBytes(bytes);
  }

  /**
   * Unwraps every active data-key version of the tenant (cached afterwards): proves its sealed
   * data can be opened before a streamed response commits to 200. Throws what the unwrap throws
   * (MasterKeyUnavailableError, KeyUnwrapError), or TenantKeyError when the tenant has no key.
   */
  async checkTenantKeys(tenantId: string): Promise<void> {
    checkTenantId(tenantId);
    const active = this.#store.listTenantKeys(tenantId).filter((k) => k.status === "active");
    if (active.length === 0) throw new TenantKeyError(`tenant ${tenantId} has no active data key`);
    for (const key of active) await this.#dek(tenantId, key.version);
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
    for (const k of [...this.#budgets.keys()]) if (k.startsWith(prefix)) this.#budgets.delete(k);
  }

  /** Re-reads every write version on next use: picks up versions another process created. */
  refreshWriteVersions(): void {
    this.#writeVersions.clear();
  }

  /**
   * Gives every data key (tenants' and the platform's) a wrap under each loaded, non-retired
   * master key that lacks one: the re-wrap step of a master rotation, and the catch-up for keys
   * created elsewhere meanwhile. Keys no loaded master key opens are skipped. Returns the number
   * of wraps added.
   */
  async wrapUnderAllMasters(owners: readonly string[]): Promise<number> {
    let added = 0;
    // Written in batches: one durable transaction per batch, not per key.
    for (let i = 0; i < owners.length; i += REWRAP_BATCH) {
      const batch: { tenantId: string; version: number; wraps: KeyWrap[] }[] = [];
      for (const owner of owners.slice(i, i + REWRAP_BATCH)) batch.push(...(await this.#missingWraps(owner)));
      if (batch.length > 0) this.#store.addWraps(batch);
      added += batch.reduce((n, b) => n + b.wraps.length, 0);
    }
    return added;
  }

  async #missingWraps(owner: string): Promise<{ tenantId: string; version: number; wraps: KeyWrap[] }[]> {
    const out: { tenantId: string; version: number; wraps: KeyWrap[] }[] = [];
    for (const key of this.#store.listTenantKeys(owner)) {
      if (key.status !== "active") continue;
      const missing = this.#usableMasters().filter(
        (r) => !key.wraps.some((w) => w.masterLabel === r.describe().masterLabel),
      );
      if (missing.length === 0) continue;
      // A key no loaded master key opens cannot be re-wrapped here; it must not stop the others
      // (nor a server's start): the key health check names it (/readyz, keys status, doctor).
      const dek = await this.#dek(owner, key.version).catch((error: unknown) => {
        if (isKeyUnavailable(error)) return undefined;
        throw error;
      });
      if (dek === undefined) continue;
      const aad = dekAad(owner, key.version);
      const wraps: KeyWrap[] = [];
      for (const r of missing) {
        const w = await r.wrap(dek, aad);
        wraps.push({ masterLabel: w.masterLabel, wrapped: w.blob });
      }
      out.push({ tenantId: owner, version: key.version, wraps });
    }
    return out;
  }

  /**
   * Every active data key of the owners that no loaded, non-retired master key opens, with why:
   * each of its wraps under such a key is actually unwrapped (vecto doctor; /readyz only looks at
   * which wraps exist). Nothing is cached or written.
   */
  async unreadableKeys(owners: readonly string[]): Promise<{ tenantId: string; version: number; reason: string }[]> {
    const retired = this.#store.retiredMasterLabels();
    const usable = this.#ring.labels().filter((l) => !retired.has(l));
    const out: { tenantId: string; version: number; reason: string }[] = [];
    for (const owner of owners) {
      for (const key of this.#store.listTenantKeys(owner)) {
        if (key.status !== "active") continue;
        const wraps = key.wraps.filter((w) => usable.includes(w.masterLabel));
        let reason =
          `no wrap under an available master key (wrapped under: ` +
          `${key.wraps.map((w) => w.masterLabel).join(", ") || "none"})`;
        for (const w of wraps) {
          try {
            await this.checkUnwrapsWith(owner, key.version, w.masterLabel);
            reason = "";
            break;
          } catch (error) {
            reason = (error as Error).message;
          }
        }
        if (reason !== "") out.push({ tenantId: owner, version: key.version, reason });
      }
    }
    return out;
  }

  /** Proves a stored DEK version opens with the given master key alone (before another is retired). */
  async checkUnwrapsWith(owner: string, version: number, masterLabel: string): Promise<void> {
    const key = this.#store.listTenantKeys(owner).find((k) => k.version === version);
    const wrap = key?.wraps.find((w) => w.masterLabel === masterLabel);
    if (wrap === undefined)
      throw new TenantKeyError(`data key ${owner} version ${version} has no wrap under master key ${masterLabel}`);
    const dek = await this.#ring.unwrap({ masterLabel, blob: wrap.wrapped }, dekAad(owner, version));
    if (dek.length !== AEAD_KEY_BYTES)
      throw new TenantKeyError(`data key ${owner} version ${version} has the wrong length`);
  }

  /**
   * A platform sub-key for one purpose, derived from the installation root secret (created on
   * first use). Derived from the newest active "_platform" version: adding one changes every
   * sub-key, so that is a deliberate migration, never routine rotation. Private: sub-keys are used
   * through handles (mac, accessTokenKeys, blindIndex), never handed out.
   */
  async #subKey(label: SubKeyLabel): Promise<Uint8Array> {
    if (!isSubKeyLabel(label)) throw new CryptoParamError("unknown sub-key label");
    const version =
      this.#cachedOrStoredVersion(PLATFORM_TENANT_ID) ??
      (await this.#serialized(PLATFORM_TENANT_ID, () => this.#ensurePlatformRoot()));
    const id = label + SEP + version;
    let key = this.#subKeys.get(id);
    if (key === undefined) {
      key = deriveKey(await this.#dek(PLATFORM_TENANT_ID, version), label);
      this.#subKeys.set(id, key);
    }
    return key;
  }

  /**
   * A keyed hash for finding a row by an encrypted value (a blind index, e.g. a login email):
   * HMAC-SHA256 under the "search-index" sub-key over (purpose, tenant, value). Equal inputs give
   * equal outputs, so it reveals equality within a tenant and nothing else.
   */
  async blindIndex(tenantId: string, purpose: string, value: string): Promise<Uint8Array> {
    const key = await this.#subKey("search-index");
    return hmacSha256(key, utf8Encoder.encode(purpose + SEP + tenantId + SEP + value));
  }

  /**
   * An HMAC-SHA256 handle under the purpose's sub-key (e.g. the audit trail's signatures): callers
   * can mac and verify, never read the key. Only the purposes in MAC_PURPOSES: a MAC handle on a
   * sub-key that other keys are derived from (as "jwt" is) would hand those keys out.
   */
  async mac(purpose: MacPurpose): Promise<MacKey> {
    if (!isMacPurpose(purpose)) throw new CryptoParamError("unknown MAC purpose");
    return new MacKey(await this.#subKey(purpose));
  }

  /**
   * The HS256 keys of access tokens: per kid, HMAC of "kid:<kid>" under the "jwt" sub-key, used inside the handle only.
   */
  accessTokenKeys(): AccessTokenKeys {
    return new AccessTokenKeys(async (kid) => hmacSha256(await this.#subKey("jwt"), utf8Encoder.encode(`kid:${kid}`)));
  }

  /**
   * The installation's Ed25519 key as a signing handle. Its seed (32 random bytes) is stored wrapped
   * under the reserved id "_signing" like any data key, created on first use; only the public half
   * ever leaves src/crypto.
   */
  async signer(purpose: SigningPurpose): Promise<Ed25519Signer> {
    if (!(SIGNING_PURPOSES as readonly string[]).includes(purpose))
      throw new CryptoParamError("unknown signing purpose");
    this.#signer ??= this.#loadSigner();
    try {
      return await this.#signer;
    } catch (error) {
      this.#signer = undefined; // a master key that was away may be back next time
      throw error;
    }
  }

  async #loadSigner(): Promise<Ed25519Signer> {
    const version =
      this.#cachedOrStoredVersion(SIGNING_KEY_ID) ??
      (await this.#serialized(
        SIGNING_KEY_ID,
        async () => this.#cachedOrStoredVersion(SIGNING_KEY_ID) ?? this.#createKey(SIGNING_KEY_ID),
      ));
    return ed25519SignerFromSeed(await this.#dek(SIGNING_KEY_ID, version));
  }

  async #ensurePlatformRoot(): Promise<number> {
    return this.#cachedOrStoredVersion(PLATFORM_TENANT_ID) ?? this.#createKey(PLATFORM_TENANT_ID);
  }

  /**
   * The loaded master keys that are not retired, the current one first. A retired current key
   * (retired by another process while this one runs) wraps nothing new: with no other key the
   * process refuses, naming the cause. The keystore checks again inside its write transaction.
   */
  #wrappingMasters(): KeyResolver[] {
    const usable = this.#usableMasters();
    if (usable.length === 0) throw new MasterKeyRetiredError(this.#ring.currentLabel);
    return usable;
  }

  #usableMasters(): KeyResolver[] {
    const retired = this.#store.retiredMasterLabels();
    return this.#ring.loaded().filter((r) => !retired.has(r.describe().masterLabel));
  }

  async #createKey(tenantId: string): Promise<number> {
    const existing = this.#store.listTenantKeys(tenantId);
    const version = existing.reduce((max, k) => Math.max(max, k.version), 0) + 1;
    const dek = new Uint8Array(randomBytes(AEAD_KEY_BYTES));
    const aad = dekAad(tenantId, version);
    // Wrapped under every loaded, non-retired master key, so whichever of them the next start is
    // configured with reads it. Only the first (the current one unless retired) must succeed: a wrap an unreachable
    // earlier key could
    // not make is added later by wrapUnderAllMasters (start-up, key-maintenance job).
    const [current, ...others] = this.#wrappingMasters();
    if (current === undefined) throw new TenantKeyError("no master key is loaded");
    const first = await current.wrap(dek, aad);
    const wraps: KeyWrap[] = [{ masterLabel: first.masterLabel, wrapped: first.blob }];
    for (const r of others) {
      const w = await r.wrap(dek, aad).catch(() => undefined);
      if (w !== undefined) wraps.push({ masterLabel: w.masterLabel, wrapped: w.blob });
    }
    this.#store.insertTenantKey({ tenantId, version, wraps, createdAt: new Date().toISOString() });
    this.#deks.set(tenantId + SEP + version, dek);
    this.#writeVersions.set(tenantId, version);
    return version;
  }

  /**
   * The write version, with one encryption counted against it. Counts are reserved in blocks in
   * the keystore (atomically, so processes sharing it get disjoint blocks); a key whose count
   * passes the limit is replaced by a new version before it is used again.
   */
  async #reserveEncryption(tenantId: string): Promise<number> {
    for (;;) {
      const version = this.#requireWriteVersion(tenantId);
      const id = tenantId + SEP + version;
      const budget = this.#budgets.get(id);
      if (budget !== undefined && budget.next < budget.end) {
        budget.next++;
        return version;
      }
      const total = this.#store.reserveEncryptions(tenantId, version, this.#block);
      if (total <= this.#maxEncryptions) {
        this.#budgets.set(id, { next: total - this.#block + 1, end: total });
        return version;
      }
      await this.#serialized(tenantId, async () => {
        this.#writeVersions.delete(tenantId);
        if (this.#requireWriteVersion(tenantId) !== version) return;
        const created = await this.#createKey(tenantId);
        this.#onForcedRotation(tenantId, created);
      });
    }
  }

  #cachedOrStoredVersion(tenantId: string): number | undefined {
    const cached = this.#writeVersions.get(tenantId);
    if (cached !== undefined) return cached;
    const stored = newestActiveVersion(this.#store.listTenantKeys(tenantId));
    if (stored !== undefined) this.#writeVersions.set(tenantId, stored);
    return stored;
  }

  #requireWriteVersion(tenantId: string): number {
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
    // Prefer the current master key, then any other loaded one; with none loaded the ring names what is missing.
    const wrap =
      this.#ring
        .labels()
        .map((label) => stored.wraps.find((w) => w.masterLabel === label))
        .find((w) => w !== undefined) ?? stored.wraps[0];
    if (wrap === undefined)
      throw new TenantKeyError(`data key version ${version} of tenant ${tenantId} has no wrapped copy`);
    const dek = await this.#ring.unwrap(
      { masterLabel: wrap.masterLabel, blob: wrap.wrapped },
      dekAad(tenantId, version),
    );
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
