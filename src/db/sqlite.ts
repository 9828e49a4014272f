/** Opening a SQLite file the one way the appliance does: private, durable, overwriting what it deletes. */
import { closeSync, constants, openSync } from "node:fs";
import BetterSqlite3 from "better-sqlite3";
import { sqliteNativeBinding } from "../native/addons.js";

/** Creates the file 0600 before SQLite does, whatever the umask: SQLite gives its WAL and shm files the same mode. */
function createPrivately(file: string): void {
  try {
    closeSync(openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

/**
 * How a COMMIT reaches the disk. FULL: SQLite fsyncs the WAL before COMMIT returns (the keystore).
 * NORMAL: COMMIT returns once the WAL frames are written, and the caller makes them durable (the
 * database, through wal-sync.ts, off the event loop).
 */
export type CommitSync = "FULL" | "NORMAL";

/** Opens a SQLite file with the appliance's durable settings; deleted content is overwritten. */
export function openSqlite(file: string, readonly: boolean, commitSync: CommitSync = "FULL"): BetterSqlite3.Database {
  if (!readonly) createPrivately(file);
  const nativeBinding = sqliteNativeBinding();
  const handle = new BetterSqlite3(file, {
    readonly,
    timeout: 5000,
    // better-sqlite3 accepts the addon object itself; @types/better-sqlite3 only knows the path form.
    ...(nativeBinding ? { nativeBinding: nativeBinding as unknown as string } : {}),
  });
  handle.pragma("foreign_keys = ON");
  handle.pragma("busy_timeout = 5000");
  if (!readonly) {
    handle.pragma("journal_mode = WAL");
    // An acknowledged write survives power loss, not only a process crash: SQLite's fsync at each
    // COMMIT (FULL), or the caller's before it acknowledges (NORMAL, see CommitSync).
    handle.pragma(`synchronous = ${commitSync}`);
    // Erased rows are overwritten with zeros instead of lingering in free pages.
    handle.pragma("secure_delete = ON");
  }
  return handle;
}
