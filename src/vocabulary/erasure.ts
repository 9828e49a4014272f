/**
 * The erasure journal: what erasing code (src/auth, src/graph) reports once an erasure committed,
 * so that a restore of an older backup erases again. src/backup/erasure-journal.ts keeps the
 * record; the erasers know only this interface, not the backup code that implements it.
 */

/** Content erased inside a tenant (the tenant's own erasure is reported apart). */
export type ErasedContentKind = "node" | "project";

export interface ErasureJournal {
  /** Called after a tenant erasure committed. Never throws. */
  tenantErased(tenantId: string): Promise<void>;
  /** Called after a node or project erasure committed. Never throws. */
  contentErased(tenantId: string, kind: ErasedContentKind, id: string): Promise<void>;
}
