/**
 * `<data>/serve.json`: what a running `vecto serve` says about itself, so that `vecto tls renew`
 * can find it, signal it and learn whether the reload took. The data-directory lock
 * (src/db/data-dir-lock.ts) says whether a server runs; this record says which process it is.
 *
 * A record outlives a crash, and the kernel reuses pids, so a record is believed only while the
 * lock is held AND the process with that pid started at the recorded time (/proc/<pid>/stat): a
 * stale record never gets an unrelated process signalled.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { replaceFile } from "../crypto/index.js";
import { dataDirLocked } from "../db/data-dir-lock.js";

export const SERVE_RECORD_FILE = "serve.json";

export interface TlsReloadOutcome {
  /** Counts reloads since start: a waiting `vecto tls renew` sees its own outcome by the change. */
  readonly sequence: number;
  readonly ok: boolean;
  readonly at: string;
  /** The certificate served after this reload (the old one when the reload was refused). */
  readonly fingerprint256: string;
  readonly validTo: string;
  /** Why the new files were refused; absent when ok. */
  readonly refused?: string;
}

export interface ServeRecord {
  readonly pid: number;
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat, field 22); null off Linux. */
  readonly startTime: string | null;
  readonly tls: TlsReloadOutcome;
}

/**
 * Fields 3.. of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses, so split after the last
 * ")".
 */
function statFields(pid: number | "self"): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** The process's start time (field 22: clock ticks since boot); null when there is no such process or no /proc. */
export function processStartTime(pid: number | "self"): string | null {
  return statFields(pid)?.[19] ?? null;
}

/**
 * True while the recorded process runs: same pid, same start time, not a zombie. Off Linux (no /proc, startTime null):
 * signal 0 says.
 */
export function recordedProcessRuns(record: Pick<ServeRecord, "pid" | "startTime">): boolean {
  if (record.startTime === null) {
    try {
      process.kill(record.pid, 0);
      return true;
    } catch {
      return false;
    }
  }
  const fields = statFields(record.pid);
  return fields !== null && fields[0] !== "Z" && fields[19] === record.startTime;
}

export async function writeServeRecord(dataDir: string, record: ServeRecord): Promise<void> {
  await replaceFile(join(dataDir, SERVE_RECORD_FILE), `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

export function removeServeRecord(dataDir: string): void {
  rmSync(join(dataDir, SERVE_RECORD_FILE), { force: true });
}

export function readServeRecord(dataDir: string): ServeRecord | null {
  const file = join(dataDir, SERVE_RECORD_FILE);
  if (!existsSync(file)) return null;
  try {
    const record = JSON.parse(readFileSync(file, "utf8")) as ServeRecord;
    return Number.isInteger(record.pid) && record.pid > 0 && typeof record.tls?.sequence === "number" ? record : null;
  } catch {
    return null;
  }
}

/** The running server's record, or null when no `vecto serve` runs on this data directory. */
export function findRunningServer(dataDir: string): ServeRecord | null {
  const record = readServeRecord(dataDir);
  if (record === null || !dataDirLocked(dataDir) || !recordedProcessRuns(record)) return null;
  return record;
}
