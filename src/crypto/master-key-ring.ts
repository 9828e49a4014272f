/**
 * The master keys an installation holds at once: one current key that wraps new data keys, and
 * earlier keys that stay usable for unwrapping until they are retired (the Vault/OpenBao seal
 * rule). Rotation adds a key, re-wraps every DEK under it, then makes it current; migrating from
 * a key file to an HSM is the same operation with resolvers of two kinds.
 */
import { MasterKeyUnavailableError } from "./errors.js";
import type { KeyResolver, ResolverInfo, TokenRecords, WrappedKey } from "./key-resolver.js";

export class MasterKeyRing implements KeyResolver {
  #current: KeyResolver;
  #others: KeyResolver[];

  constructor(current: KeyResolver, others: readonly KeyResolver[] = []) {
    this.#current = current;
    this.#others = others.filter((r) => r.describe().masterLabel !== current.describe().masterLabel);
  }

  get currentLabel(): string {
    return this.#current.describe().masterLabel;
  }

  /** Current first. */
  loaded(): readonly KeyResolver[] {
    return [this.#current, ...this.#others];
  }

  labels(): string[] {
    return this.loaded().map((r) => r.describe().masterLabel);
  }

  has(label: string): boolean {
    return this.labels().includes(label);
  }

  /** Loads another master key for unwrapping (and for wrapping alongside the current one). */
  add(resolver: KeyResolver): void {
    if (!this.has(resolver.describe().masterLabel)) this.#others.push(resolver);
  }

  /** Makes a loaded key current; the previous current key stays loaded for unwrapping. */
  promote(label: string): void {
    const next = this.#others.find((r) => r.describe().masterLabel === label);
    if (next === undefined) {
      if (label === this.currentLabel) return;
      throw new MasterKeyUnavailableError(`master key ${label} is not loaded`);
    }
    this.#others = [this.#current, ...this.#others.filter((r) => r !== next)];
    this.#current = next;
  }

  /** Unloads a retired key. The current key cannot be dropped. */
  drop(label: string): void {
    if (label === this.currentLabel)
      throw new MasterKeyUnavailableError(`master key ${label} is the current one and cannot be unloaded`);
    this.#others = this.#others.filter((r) => r.describe().masterLabel !== label);
  }

  wrap(dek: Uint8Array, aad: Uint8Array): Promise<WrappedKey> {
    return this.#current.wrap(dek, aad);
  }

  unwrap(wrapped: WrappedKey, aad: Uint8Array): Promise<Uint8Array> {
    const resolver = this.loaded().find((r) => r.describe().masterLabel === wrapped.masterLabel);
    if (resolver === undefined) {
      const also =
        this.#others.length > 0
          ? ` (also loaded: ${this.#others.map((r) => r.describe().masterLabel).join(", ")})`
          : "";
      return Promise.reject(
        new MasterKeyUnavailableError(
          `DEK was wrapped by master key ${wrapped.masterLabel}, but the loaded master key is ` +
            `${this.currentLabel}${also}`,
        ),
      );
    }
    return resolver.unwrap(wrapped, aad);
  }

  describe(): ResolverInfo {
    return this.#current.describe();
  }

  /** The current key's token records: the audit anchor follows the key the installation runs on. */
  get tokenRecords(): TokenRecords | undefined {
    return this.#current.tokenRecords;
  }

  /** Ready when the current key works; an unusable earlier key only matters for what it alone wraps. */
  check(): Promise<void> {
    return this.#current.check();
  }
}
