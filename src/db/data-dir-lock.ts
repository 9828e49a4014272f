/**
 * "Someone is serving from this data directory": an exclusive lock on `<data>/vecto.lock`, held
 * by `vecto serve` for its lifetime and by `vecto backup restore` while it replaces files.
 *
 * The lock is SQLite's own file lock (POSIX advisory lock via fcntl) on a tiny database opened in
 * EXCLUSIVE locking mode: after one write transaction the connection keeps its exclusive lock
 * until it closes, and the kernel drops it when the process dies, however it dies. So a crashed
 * server never leaves a stale lock, and there is no pid file to go out of date. Within one process
 * SQLite tracks its own locks, so a second connection there sees the lock too.
 *
 * Nothing may open vecto.lock with plain fs calls in a process that holds it: closing any
 * descriptor of a file drops that process's POSIX locks on it.
 */
import { closeSync, constants, existsSync, openSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { sqliteNativeBinding } from "../native/addons.js";

export const LOCK_FILE = "vecto.lock";

export class DataDirBusyError extends Error {
  override readonly name = "DataDirBusyError";
}

export interface DataDirLock {
  release(): void;
}

function open(file: string, mustExist: boolean): BetterSqlite3.Database {
  const nativeBinding = sqliteNativeBinding();
  return new BetterSqlite3(file, {
    timeout: 0,
    fileMustExist: mustExist,
    // better-sqlite3 accepts the addon object itself; @types/better-sqlite3 only knows the path form.
    ...(nativeBinding ? { nativeBinding: nativeBinding as unknown as string } : {}),
  });
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED";
}

function busyMessage(dataDir: string): string {
  return `${dataDir} is in use: vecto serve (or a restore) is running there; stop it first`;
}

/** Created 0600 whatever the umask; an existing file is left alone (it may be locked, see above). */
function createLockFile(file: string): void {
  if (existsSync(file)) return;
  try {
    closeSync(openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

/** Takes the lock or throws DataDirBusyError. The data directory must exist. */
export function acquireDataDirLock(dataDir: string): DataDirLock {
  const file = join(dataDir, LOCK_FILE);
  createLockFile(file);
  const handle = open(file, false);
  try {
    handle.pragma("locking_mode = EXCLUSIVE");
    // The first write transaction takes the exclusive lock; EXCLUSIVE mode keeps it afterwards.
    handle.exec("BEGIN EXCLUSIVE; COMMIT");
  } catch (error) {
    handle.close();
    if (isBusy(error)) throw new DataDirBusyError(busyMessage(dataDir));
    throw error;
  }
  return { release: () => handle.close() };
}

/** True while another connection (any process) holds the lock. Creates nothing. */
export function dataDirLocked(dataDir: string): boolean {
  const file = join(dataDir, LOCK_FILE);
  if (!existsSync(file)) return false;
  let handle: BetterSqlite3.Database | undefined;
  try {
    handle = open(file, true);
    handle.prepare("SELECT count(*) AS n FROM sqlite_master").get();
    return false;
  } catch (error) {
    if (isBusy(error)) return true;
    throw error;
  } finally {
    handle?.close();
  }
}

/** Throws DataDirBusyError when the directory is in use. */
export function assertDataDirFree(dataDir: string): void {
  if (dataDirLocked(dataDir)) throw new DataDirBusyError(busyMessage(dataDir));
}
