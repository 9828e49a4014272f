/**
 * Backup errors. Messages are one line for an operator: they may name files, backup ids, tenant
 * ids and master-key labels, never key bytes or content. Each class maps to one exit code of
 * `vecto backup` (docs/backup.md), so scripts can tell "the backup is bad" from "not now".
 */

export class BackupError extends Error {
  override readonly name: string = "BackupError";
}

/**
 * The backup cannot be trusted or opened: not a backup, truncated, modified, wrong key, failed
 * integrity check. Deliberately one class: which check failed first tells an attacker little, and
 * the operator's action is the same (use another copy).
 */
export class BackupInvalidError extends BackupError {
  override readonly name: string = "BackupInvalidError";
}

/** The backup itself is fine, but restoring it here, now, is refused (serving, newer schema, another installation). */
export class RestoreRefusedError extends BackupError {
  override readonly name: string = "RestoreRefusedError";
}
