/** Backup names, retention (keep N, protect the new one, clear stale partials), the erasure record, the progress line, the data-dir lock. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  ERASED_FILE,
  mergeErasures,
  readErasedFile,
  readErasureRecord,
  recordErasures,
} from "../../../src/backup/erasures.js";
import { BackupError } from "../../../src/backup/errors.js";
import { formatProgress, silentProgress, terminalProgress } from "../../../src/backup/progress.js";
import { applyRetention, backupFileName, listBackupFiles } from "../../../src/backup/retention.js";
import { acquireDataDirLock, DataDirBusyError, dataDirLocked, LOCK_FILE } from "../../../src/db/data-dir-lock.js";
import { ROOT, testDir } from "../../helpers.js";

describe("backup files", () => {
  it("names sort by time and tell full from tenant backups", () => {
    const early = backupFileName(new Date("2026-05-05T03:00:00.000Z"));
    const late = backupFileName(new Date("2026-05-05T03:00:00.001Z"));
    expect(early).toMatch(/^vecto-full-20260505T030000\.000Z-[0-9a-f]{8}\.vbak$/);
    expect([late, early].sort()).toEqual([early, late]);
    expect(backupFileName(new Date("2026-05-05T03:00:00Z"), "Acme_Corp")).toMatch(
      /^vecto-tenant-acme-corp-20260505T030000\.000Z-[0-9a-f]{8}\.vbak$/,
    );
  });

  it("keeps the newest N full backups, never the protected one, and leaves other files alone", async () => {
    const d = testDir();
    const names = [1, 2, 3, 4, 5].map((s) => backupFileName(new Date(Date.UTC(2026, 4, s))));
    for (const n of names) writeFileSync(join(d, n), "x");
    const tenant = backupFileName(new Date(Date.UTC(2026, 4, 1)), "acme");
    writeFileSync(join(d, tenant), "x");
    writeFileSync(join(d, "notes.txt"), "mine");
    const removed = await applyRetention(d, 2, join(d, names[4]!));
    expect(removed.map((p) => p.split("/").pop())).toEqual(names.slice(0, 3));
    expect(readdirSync(d).sort()).toEqual([...names.slice(3), tenant, "notes.txt"].sort());
    expect((await listBackupFiles(d)).map((p) => p.split("/").pop())).toEqual([tenant, ...names.slice(3)]);
    // The protected (new) one survives even when it sorts oldest (a clock set back).
    const old = backupFileName(new Date(Date.UTC(2020, 0, 1)));
    writeFileSync(join(d, old), "x");
    await applyRetention(d, 1, join(d, old));
    expect(existsSync(join(d, old))).toBe(true);
  });

  it("removes .partial files an interrupted run left a day ago, not a running one's", async () => {
    const d = testDir();
    const stale = join(d, `${backupFileName(new Date())}.partial`);
    const fresh = join(d, `${backupFileName(new Date())}.partial`);
    writeFileSync(stale, "x");
    writeFileSync(fresh, "x");
    const dayAgo = new Date(Date.now() - 25 * 3600_000);
    utimesSync(stale, dayAgo, dayAgo);
    await applyRetention(d, 7, "");
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
  });

  it("records erasures in a private file, merged, and refuses a malformed one", async () => {
    const d = testDir();
    const file = join(d, ERASED_FILE);
    expect(await readErasedFile(file)).toEqual([]);
    await recordErasures(file, [{ tenantId: "b", erasedAt: "2026-01-02T00:00:00.000Z" }]);
    await recordErasures(file, [
      { tenantId: "a", erasedAt: "2026-01-03T00:00:00.000Z" },
      { tenantId: "b", erasedAt: "2026-01-01T00:00:00.000Z" },
    ]);
    expect(await readErasedFile(file)).toEqual([
      { tenantId: "a", erasedAt: "2026-01-03T00:00:00.000Z" },
      { tenantId: "b", erasedAt: "2026-01-01T00:00:00.000Z" },
    ]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(mergeErasures([{ tenantId: "x", erasedAt: "2" }], [{ tenantId: "x", erasedAt: "1" }])).toEqual([
      { tenantId: "x", erasedAt: "1" },
    ]);
    writeFileSync(file, "{ not json");
    await expect(readErasedFile(file)).rejects.toBeInstanceOf(BackupError);
  });

  it("records erased content in the same file, merged, and keeps it when tenants are added", async () => {
    const file = join(testDir(), ERASED_FILE);
    // A file written before content erasure existed reads as no content.
    writeFileSync(file, JSON.stringify({ tenants: [{ tenantId: "t", erasedAt: "1" }] }));
    expect(await readErasureRecord(file)).toEqual({ tenants: [{ tenantId: "t", erasedAt: "1" }], content: [] });
    await recordErasures(file, [], [{ tenantId: "a", kind: "node", id: "n-2", erasedAt: "3" }]);
    await recordErasures(
      file,
      [{ tenantId: "u", erasedAt: "4" }],
      [
        { tenantId: "a", kind: "project", id: "p-1", erasedAt: "5" },
        { tenantId: "a", kind: "node", id: "n-2", erasedAt: "2" },
      ],
    );
    expect(await readErasureRecord(file)).toEqual({
      tenants: [
        { tenantId: "t", erasedAt: "1" },
        { tenantId: "u", erasedAt: "4" },
      ],
      content: [
        { tenantId: "a", kind: "node", id: "n-2", erasedAt: "2" },
        { tenantId: "a", kind: "project", id: "p-1", erasedAt: "5" },
      ],
    });
    writeFileSync(
      file,
      JSON.stringify({ tenants: [], content: [{ tenantId: "a", kind: "edge", id: "e", erasedAt: "1" }] }),
    );
    await expect(readErasureRecord(file)).rejects.toBeInstanceOf(BackupError);
  });

  it("formats progress, and stays silent off a terminal", () => {
    expect(formatProgress("encrypting", 120_000_000, 200_000_000, 2)).toBe("encrypting  120.0/200.0 MB  60 MB/s");
    const written: string[] = [];
    const notTty = { isTTY: false, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    expect(terminalProgress(notTty, true)).toBe(silentProgress);
    const tty = { isTTY: true, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream;
    expect(terminalProgress(tty, false)).toBe(silentProgress);
    const p = terminalProgress(tty, true);
    p.start("verifying", 10);
    p.add(10);
    p.done();
    expect(written.every((s) => s.startsWith("\r") || s === "\n")).toBe(true);
    expect(written.at(-2)).toContain("verifying  0.0/0.0 MB");
  });

  describe("data-dir lock", () => {
    /** Asks a separate process, as `vecto backup restore` would. */
    function lockedFromOutside(d: string): boolean {
      const script = `import { dataDirLocked } from ${JSON.stringify(join(ROOT, "src/db/data-dir-lock.ts"))}; process.stdout.write(String(dataDirLocked(${JSON.stringify(d)})));`;
      const out = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
        cwd: ROOT,
        encoding: "utf8",
      });
      return out.stdout.trim() === "true";
    }

    it("is held until released, seen from this process and another, and never created by a probe", () => {
      const d = testDir();
      expect(dataDirLocked(d)).toBe(false);
      expect(existsSync(join(d, LOCK_FILE))).toBe(false);
      const lock = acquireDataDirLock(d);
      expect(statSync(join(d, LOCK_FILE)).mode & 0o777).toBe(0o600);
      expect(dataDirLocked(d)).toBe(true);
      expect(dataDirLocked(d)).toBe(true); // probing (and closing the probe) does not drop the lock
      expect(() => acquireDataDirLock(d)).toThrow(DataDirBusyError);
      expect(lockedFromOutside(d)).toBe(true);
      lock.release();
      expect(dataDirLocked(d)).toBe(false);
      expect(lockedFromOutside(d)).toBe(false);
      acquireDataDirLock(d).release();
    });

    it("a missing data dir is not locked", () => {
      const d = join(testDir(), "nope");
      expect(dataDirLocked(d)).toBe(false);
      mkdirSync(d);
    });
  });
});
