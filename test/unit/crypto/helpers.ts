import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeyWrap, StoredTenantKey, TenantKeyStore } from "../../../src/crypto/tenant-key-store.js";

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

export async function makeTempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "vecto-crypto-"));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Writes a key file with exact content and mode (chmod after write: umask cannot interfere). */
export async function writeKeyFile(path: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
  await writeFile(path, content);
  await chmod(path, mode);
}

/** In-memory TenantKeyStore for tests only; counts calls so tests can assert the hot path skips it. */
export class MemoryTenantKeyStore implements TenantKeyStore {
  readonly rows = new Map<string, StoredTenantKey[]>();
  readonly retired = new Set<string>();
  listCalls = 0;

  listTenantKeys(tenantId: string): StoredTenantKey[] {
    this.listCalls++;
    return (this.rows.get(tenantId) ?? []).map((k) => ({ ...k, wraps: k.wraps.map((w) => ({ ...w, wrapped: w.wrapped.slice() })) }));
  }

  insertTenantKey(key: { tenantId: string; version: number; wraps: readonly KeyWrap[]; createdAt: string }): void {
    const list = this.rows.get(key.tenantId) ?? [];
    if (list.some((k) => k.version === key.version)) {
      throw new Error(`duplicate key version ${key.tenantId}/${key.version}`);
    }
    list.push({ ...key, status: "active", encryptions: 0, wraps: key.wraps.map((w) => ({ ...w, wrapped: w.wrapped.slice() })) });
    this.rows.set(key.tenantId, list);
  }

  addWraps(entries: readonly { tenantId: string; version: number; wraps: readonly KeyWrap[] }[]): void {
    for (const { tenantId, version, wraps } of entries) {
      const row = this.#row(tenantId, version);
      this.update(tenantId, version, { wraps: [...row.wraps, ...wraps.filter((w) => !row.wraps.some((x) => x.masterLabel === w.masterLabel))] });
    }
  }

  reserveEncryptions(tenantId: string, version: number, count: number): number {
    const row = this.#row(tenantId, version);
    this.update(tenantId, version, { encryptions: row.encryptions + count });
    return row.encryptions + count;
  }

  retiredMasterLabels(): ReadonlySet<string> {
    return this.retired;
  }

  /** Test hook: mutate a stored row (tamper, retire, swap). */
  update(tenantId: string, version: number, patch: Partial<StoredTenantKey>): void {
    const list = this.rows.get(tenantId) ?? [];
    const index = list.findIndex((k) => k.version === version);
    const row = list[index];
    if (row === undefined) throw new Error("no such row");
    list[index] = { ...row, ...patch };
  }

  #row(tenantId: string, version: number): StoredTenantKey {
    const row = (this.rows.get(tenantId) ?? []).find((k) => k.version === version);
    if (row === undefined) throw new Error("no such row");
    return row;
  }
}
