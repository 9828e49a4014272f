/**
 * The audit records of backup operations (backup.created, backup.verified, backup.rewrapped,
 * backup.failed), made here once for `vecto backup ...` and the scheduled backup alike, so both
 * record the same facts in the same shape. They go to the installation's log; a verification run
 * without an installation (a full backup checked with the master key alone) has no log to write
 * to, and so records nothing.
 */
import type { EventSink } from "../audit/events.js";
import type { Actor } from "../vocabulary/events.js";

export interface BackupRecorder {
  /** The installation's events; undefined when there is no installation here. */
  readonly events: EventSink | undefined;
  /** "vecto backup" for the CLI, "job:backup" for the scheduled run. */
  readonly actor: Actor;
}

export function backupRecorder(events: EventSink | undefined, actorId: "vecto backup" | "job:backup"): BackupRecorder {
  return { events, actor: { type: "system", id: actorId } };
}

export function recordBackupCreated(
  r: BackupRecorder,
  created: { backupId: string; kind: string; file: string; bytes: number; keyOwner: string },
): void {
  r.events?.emit({
    event: "backup.created",
    sensitivity: "security",
    severity: "info",
    tenantId: null,
    actor: r.actor,
    payload: { ...created },
  });
}

export function recordBackupVerified(
  r: BackupRecorder,
  verified: { backupId: string; kind: string; file: string },
): void {
  r.events?.emit({
    event: "backup.verified",
    sensitivity: "security",
    severity: "info",
    tenantId: null,
    actor: r.actor,
    payload: { ...verified },
  });
}

export function recordBackupRewrapped(
  r: BackupRecorder,
  rewrapped: { backupId: string; file: string; from: string; to: string },
): void {
  r.events?.emit({
    event: "backup.rewrapped",
    sensitivity: "security",
    severity: "info",
    tenantId: null,
    actor: r.actor,
    payload: { ...rewrapped },
  });
}

/** The error's class only: its message may name paths or keys. */
export function recordBackupFailed(
  r: BackupRecorder,
  operation: "create" | "verify" | "rewrap" | "scheduled",
  error: unknown,
  backupId?: string,
): void {
  const reason = error instanceof Error ? error.name : "Error";
  r.events?.emit({
    event: "backup.failed",
    sensitivity: "security",
    severity: "error",
    tenantId: null,
    actor: r.actor,
    payload: { operation, ...(backupId === undefined ? {} : { backupId }), reason },
  });
}
