/**
 * The storage state behind 507 storage-full and /readyz's storage check, on a real small tmpfs:
 * ENOSPC becomes StorageFullError; a write that found the disk full keeps the disk "full" even
 * with the floor free, until a write succeeds or an operator frees more than the floor.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStorageFull, STORAGE_FLOOR_BYTES, StorageFullError, StorageState } from "../../../src/db/storage.js";
import { isRoot } from "../../installer/fixture.js";

const MiB = 1024 * 1024;

describe.skipIf(!isRoot)("storage state", () => {
  let dir = "";
  let mounted = false;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vecto-storage-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", dir]);
    mounted = true;
  });
  afterAll(() => {
    if (mounted) execFileSync("umount", ["-l", dir]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("turns ENOSPC into StorageFullError and stays not ready, with the floor free, until space grows or a write succeeds", () => {
    const state = new StorageState(dir);
    writeFileSync(join(dir, "ballast"), Buffer.alloc(Math.floor(1.5 * MiB)));
    expect(() => state.check()).not.toThrow();

    const tooBig = join(dir, "too-big");
    const attempt = (): void => {
      try {
        writeFileSync(tooBig, Buffer.alloc(5 * MiB)); // more than the whole tmpfs
      } catch (error) {
        rmSync(tooBig, { force: true }); // what a rolled-back write leaves: nothing
        throw error;
      }
    };
    let thrown: unknown;
    try {
      state.write(attempt);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(StorageFullError);
    expect(isStorageFull(Object.assign(new Error("x"), { code: "SQLITE_FULL" }))).toBe(true);
    expect(isStorageFull(Object.assign(new Error("x"), { code: "SQLITE_IOERR_WRITE" }))).toBe(false); // a failing disk is not a full one

    expect(state.freeBytes()).toBeGreaterThan(STORAGE_FLOOR_BYTES);
    expect(() => state.check()).toThrow(StorageFullError); // the last write found the disk full

    rmSync(join(dir, "ballast")); // an operator frees more than the floor
    expect(() => state.check()).not.toThrow();

    expect(() => state.write(attempt)).toThrow(StorageFullError);
    expect(() => state.check()).toThrow(StorageFullError);
    state.write(() => writeFileSync(join(dir, "small"), "fits")); // a write that succeeds clears it
    expect(() => state.check()).not.toThrow();

    writeFileSync(join(dir, "fill"), Buffer.alloc(state.freeBytes() - STORAGE_FLOOR_BYTES / 2));
    expect(() => state.check()).toThrow(StorageFullError); // below the floor, before any write fails
  });
});
