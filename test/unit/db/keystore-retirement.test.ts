/**
 * Retiring a master key in the keystore: the check that no data key is left wrapped only under
 * it, the deletion of its wraps and the mark are one write transaction; an already retired key
 * can be retired again to clean up leftover wraps under the same rule; the structural check
 * behind /readyz finds data keys no available master key has a wrap for.
 */
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KeyStore, StrandingRetirementError } from "../../../src/db/keystore.js";
import { tempDir } from "../../helpers.js";

const OLD = "env:00000000000000aa";
const NEW = "env:00000000000000bb";
const NOW = "2026-01-01T00:00:00.000Z";
const wrap = (masterLabel: string) => ({ masterLabel, wrapped: new Uint8Array(60).fill(7) });

describe("master-key retirement in the keystore", () => {
  let dir: { path: string; cleanup: () => void };
  let keystore: KeyStore;
  const file = () => join(dir.path, "keys.db");
  const labelsOf = (tenantId: string) =>
    keystore.listTenantKeys(tenantId).map((k) => k.wraps.map((w) => w.masterLabel));

  beforeEach(() => {
    dir = tempDir();
    keystore = KeyStore.open(file(), { now: () => NOW });
    keystore.registerMaster(OLD, "env", NOW);
    keystore.registerMaster(NEW, "env", NOW);
    keystore.insertTenantKey({ tenantId: "both", version: 1, wraps: [wrap(OLD), wrap(NEW)], createdAt: NOW });
    keystore.insertTenantKey({ tenantId: "late", version: 1, wraps: [wrap(OLD)], createdAt: NOW });
  });
  afterEach(() => {
    keystore.close();
    dir.cleanup();
  });

  it("refuses while a data key is wrapped only under the key, naming it, and removes nothing", () => {
    let refusal: unknown;
    try {
      keystore.retireMaster(OLD, NOW);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(StrandingRetirementError);
    expect((refusal as StrandingRetirementError).stranded).toEqual([{ tenantId: "late", version: 1 }]);
    expect(labelsOf("both")).toEqual([[OLD, NEW]]);
    expect(keystore.retiredMasterLabels().has(OLD)).toBe(false);
  });

  it("does not count a wrap under another retired or unregistered key as a way out", () => {
    keystore.addWraps([{ tenantId: "late", version: 1, wraps: [wrap("env:unregistered00")] }]);
    expect(() => keystore.retireMaster(OLD, NOW)).toThrow(StrandingRetirementError);
  });

  it("retires once every data key has another wrap, and then refuses new wraps under it", () => {
    keystore.addWraps([{ tenantId: "late", version: 1, wraps: [wrap(NEW)] }]);
    expect(keystore.retireMaster(OLD, NOW)).toBe(2);
    expect(labelsOf("both")).toEqual([[NEW]]);
    expect(labelsOf("late")).toEqual([[NEW]]);
    expect(() =>
      keystore.insertTenantKey({ tenantId: "window", version: 1, wraps: [wrap(OLD)], createdAt: NOW }),
    ).toThrow(`this server's master key ${OLD} was retired`);
    expect(keystore.listTenantKeys("window")).toEqual([]);
  });

  it("retiring again removes leftover wraps (written by an older binary) where another wrap exists, and still refuses to strand", () => {
    keystore.addWraps([{ tenantId: "late", version: 1, wraps: [wrap(NEW)] }]);
    keystore.retireMaster(OLD, NOW);
    // What a process without the in-transaction check could leave behind: raw rows under the retired key.
    const raw = new BetterSqlite3(file());
    raw
      .prepare(
        "INSERT INTO key_wraps (tenant_id, version, master_label, wrapped, created_at) VALUES ('both', 1, ?, x'00', ?)",
      )
      .run(OLD, NOW);
    raw
      .prepare("INSERT INTO tenant_keys (tenant_id, version, status, created_at) VALUES ('stranded', 1, 'active', ?)")
      .run(NOW);
    raw
      .prepare(
        "INSERT INTO key_wraps (tenant_id, version, master_label, wrapped, created_at) VALUES ('stranded', 1, ?, x'00', ?)",
      )
      .run(OLD, NOW);
    raw.close();
    expect(() => keystore.retireMaster(OLD, NOW)).toThrow(StrandingRetirementError);
    expect(labelsOf("both").map((l) => l.sort())).toEqual([[OLD, NEW]]);
    keystore.addWraps([{ tenantId: "stranded", version: 1, wraps: [wrap(NEW)] }]);
    expect(keystore.retireMaster(OLD, NOW)).toBe(2);
    expect(labelsOf("both")).toEqual([[NEW]]);
    expect(keystore.masters().find((m) => m.label === OLD)?.retiredAt).toBe(NOW);
  });

  it("finds the data keys no available master key has a wrap for (the /readyz check)", () => {
    expect(keystore.keysWithoutUsableWrap([OLD, NEW])).toEqual([]);
    expect(keystore.keysWithoutUsableWrap([NEW])).toEqual([{ tenantId: "late", version: 1 }]);
    expect(keystore.keysWithoutUsableWrap([])).toEqual([
      { tenantId: "both", version: 1 },
      { tenantId: "late", version: 1 },
    ]);
    keystore.addWraps([{ tenantId: "late", version: 1, wraps: [wrap(NEW)] }]);
    keystore.retireMaster(OLD, NOW);
    // Loaded but retired does not count.
    expect(keystore.keysWithoutUsableWrap([OLD])).toEqual([
      { tenantId: "both", version: 1 },
      { tenantId: "late", version: 1 },
    ]);
  });

  it("records the running server's master keys and clears only its own record", () => {
    expect(keystore.servingRecord()).toBeNull();
    keystore.recordServing({ pid: 4242, currentLabel: OLD, loadedLabels: [OLD], startedAt: NOW });
    expect(keystore.servingRecord()).toEqual({ pid: 4242, currentLabel: OLD, loadedLabels: [OLD], startedAt: NOW });
    keystore.clearServing(1);
    expect(keystore.servingRecord()).not.toBeNull();
    keystore.clearServing(4242);
    expect(keystore.servingRecord()).toBeNull();
  });
});
