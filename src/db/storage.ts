/**
 * A full disk, recognised in one place. SQLite reports it as SQLITE_FULL (its write() got
 * ENOSPC); the file system as ENOSPC or EDQUOT. Either way nothing was written: SQLite rolled the
 * transaction back, and the committed data stays where it is (database file and WAL).
 *
 * The state also answers readiness without writing on every probe: free space on the data
 * directory (one statfs), plus what the last write learned. A write that found the disk full
 * makes the database not ready until a write commits again or free space has grown by the floor
 * since (an operator freed space: the next write may try again).
 */
import { statfsSync } from "node:fs";
import type { Unavailable, UnavailableKind } from "../errors.js";

/** Nothing can be written: the disk (or the quota) holding the data directory is full. */
export class StorageFullError extends Error implements Unavailable {
  override readonly name = "StorageFullError";
  readonly unavailable: UnavailableKind = "storage-full";
}

/**
 * Below this much free space the database is reported not ready before a write fails: one large
 * request plus its WAL frames and audit rows stay well under it.
 */
export const STORAGE_FLOOR_BYTES = 1024 * 1024;

const FULL_CODES: ReadonlySet<unknown> = new Set(["SQLITE_FULL", "ENOSPC", "EDQUOT"]);

/** Whether an error from SQLite or the file system means "no space left". */
export function isStorageFull(error: unknown): boolean {
  return error instanceof Error && FULL_CODES.has((error as { code?: unknown }).code);
}

const FULL = "the disk holding the database is full";

export class StorageState {
  /** Free bytes when the last write found the disk full; undefined after a commit. */
  #fullAt: number | undefined;

  constructor(private readonly dir: string) {}

  /** Runs a write; a full disk becomes StorageFullError and is remembered, a success clears it. */
  write<T>(fn: () => T): T {
    let result: T;
    try {
      result = fn();
    } catch (error) {
      if (!isStorageFull(error)) throw error;
      this.#fullAt = this.freeBytes();
      throw new StorageFullError(`${FULL}; nothing was written`);
    }
    this.#fullAt = undefined;
    return result;
  }

  freeBytes(): number {
    const stats = statfsSync(this.dir);
    return stats.bavail * stats.bsize;
  }

  /** Throws StorageFullError while writes cannot be expected to succeed (for /readyz). */
  check(): void {
    const free = this.freeBytes();
    if (this.#fullAt !== undefined && free >= this.#fullAt + STORAGE_FLOOR_BYTES) this.#fullAt = undefined;
    if (this.#fullAt !== undefined || free < STORAGE_FLOOR_BYTES) throw new StorageFullError(FULL);
  }
}
