/**
 * Moves a tenant's sealed fields onto its newest data-key version, in small batches: each batch
 * is decrypted and re-sealed outside the database, then swapped in one write transaction with
 * its audit event, row by row only where the value is unchanged since it was read. Nothing is
 * remembered between runs: the next run finds what is left by the key version in each value,
 * so an interrupted run simply resumes.
 */
import type { FieldRef } from "../crypto/index.js";
import { ENCRYPTED_COLUMNS, type EncryptedColumn } from "../db/encrypted-columns.js";
import type { SealedRow } from "../db/repositories/sealed-fields.js";
import type { KeyDeps } from "./rotation.js";
import type { Actor } from "../vocabulary/events.js";

export interface ReencryptResult {
  readonly tenantId: string;
  readonly writeVersion: number | null;
  /** Values re-sealed under the write version by this run. */
  readonly rewritten: number;
  /** Values still sealed under older versions after this run. */
  readonly remaining: number;
}

export interface ReencryptOptions {
  readonly batchSize?: number;
  /** Stop after this many values (a job's share of work per run). */
  readonly maxValues?: number;
}

/** Tenants and reserved ids whose data keys re-encryption looks after (the reserved ones have no sealed fields). */
export function tenantsWithKeys(deps: KeyDeps): string[] {
  return deps.db.keystore.keyOwners().filter((id) => !id.startsWith("_"));
}

/** Values of the tenant sealed under any version other than its write version. */
export function remainingValues(deps: KeyDeps, tenantId: string): number {
  const target = deps.crypto.writeVersion(tenantId);
  let n = 0;
  for (const [version, count] of deps.db.tenantReads(tenantId).sealedFields.versionCounts())
    if (version !== target) n += count;
  return n;
}

export async function reencryptTenant(
  deps: KeyDeps,
  tenantId: string,
  actor: Actor,
  options: ReencryptOptions = {},
): Promise<ReencryptResult> {
  const target = deps.crypto.writeVersion(tenantId);
  if (target === undefined) return { tenantId, writeVersion: null, rewritten: 0, remaining: 0 };
  const batchSize = options.batchSize ?? 200;
  let budget = options.maxValues ?? Number.POSITIVE_INFINITY;
  let rewritten = 0;
  for (const column of ENCRYPTED_COLUMNS) {
    let after = "";
    while (budget > 0) {
      const rows = deps.db
        .tenantReads(tenantId)
        .sealedFields.notUnder(column, target, after, Math.min(batchSize, budget));
      if (rows.length === 0) break;
      after = rows[rows.length - 1]?.id ?? after;
      budget -= rows.length;
      rewritten += await reencryptBatch(deps, tenantId, column, rows, actor);
    }
  }
  return { tenantId, writeVersion: target, rewritten, remaining: remainingValues(deps, tenantId) };
}

async function reencryptBatch(
  deps: KeyDeps,
  tenantId: string,
  column: EncryptedColumn,
  rows: readonly SealedRow[],
  actor: Actor,
): Promise<number> {
  const updates: { row: SealedRow; next: Uint8Array; version: number }[] = [];
  for (const row of rows) {
    const ref: FieldRef = { table: column.table, column: column.fieldColumn, rowId: row.id };
    const next = await deps.crypto.reencryptField(tenantId, ref, row.sealed);
    if (next !== null) updates.push({ row, next, version: deps.crypto.writeVersion(tenantId) ?? 0 });
  }
  return deps.db.write((tx) => {
    let n = 0;
    for (const u of updates) if (tx.tenant(tenantId).sealedFields.replace(column, u.row.id, u.row.sealed, u.next)) n++;
    if (n > 0) {
      tx.audit({
        event: "keys.reencrypted",
        sensitivity: "normal",
        severity: "info",
        tenantId,
        actor,
        payload: { table: column.table, column: column.fieldColumn, values: n, version: updates[0]?.version ?? 0 },
      });
    }
    return n;
  });
}

/**
 * Retires data-key versions nothing is sealed under any more. A version must be found unused on
 * two runs at least `graceMs` apart, so a write that was sealed under it just before a rotation
 * and commits late is never stranded.
 */
export function retireUnusedVersions(deps: KeyDeps, tenantId: string, graceMs: number, actor: Actor): number[] {
  const target = deps.crypto.writeVersion(tenantId);
  if (target === undefined) return [];
  const counts = deps.db.tenantReads(tenantId).sealedFields.versionCounts();
  const now = deps.now();
  const retired: number[] = [];
  for (const key of deps.db.keystore.summary()) {
    if (key.tenantId !== tenantId || key.status !== "active" || key.version >= target) continue;
    if ((counts.get(key.version) ?? 0) > 0) {
      if (key.unusedSince !== null) deps.db.keystore.markUnused(tenantId, key.version, null);
    } else if (now.getTime() - Date.parse(key.unusedSince ?? now.toISOString()) >= graceMs) {
      deps.db.keystore.retireVersion(tenantId, key.version, now.toISOString());
      deps.events.emit({
        event: "keys.dek_retired",
        sensitivity: "security",
        severity: "info",
        tenantId,
        actor,
        payload: { version: key.version },
      });
      retired.push(key.version);
    } else if (key.unusedSince === null) {
      deps.db.keystore.markUnused(tenantId, key.version, now.toISOString());
    }
  }
  if (retired.length > 0) deps.crypto.forgetTenant(tenantId);
  return retired;
}
