/**
 * Proofs on request: that an event is in a log at a signed size (inclusion), and that a log at one
 * signed size is a prefix of the log at a later one (consistency). Together with the signed
 * checkpoints they let a third party check an event, or the log's history, without the log.
 */
import type { Database } from "../db/db.js";
import { DomainError } from "../errors.js";
import { consistencyProof, inclusionProof } from "./merkle.js";

const PAGE = 5_000;

/** The log's first `size` leaf hashes (32 bytes each: 32 MB per million events, only while a proof is made). */
function leaves(db: Database, logId: string, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  while (out.length < size) {
    const page = db.auditLog.leafHashes(logId, out.length, Math.min(PAGE, size - out.length));
    if (page.length === 0) break;
    out.push(...page);
  }
  if (out.length < size) throw new DomainError("rejected", `the log has only ${out.length} events`);
  return out;
}

function signedSize(db: Database, logId: string, size: number): void {
  if (!db.auditLog.checkpoints(logId).some((cp) => cp.size === size))
    throw new DomainError(
      "rejected",
      `no signed checkpoint at size ${size}; use the size of one from /api/audit/checkpoints`,
    );
}

const base64 = (hashes: Uint8Array[]): string[] => hashes.map((h) => Buffer.from(h).toString("base64"));

export function inclusion(
  db: Database,
  logId: string,
  seq: number,
  size: number,
): { seq: number; size: number; leafHash: string; proof: string[] } {
  signedSize(db, logId, size);
  if (seq >= size) throw new DomainError("rejected", `event ${seq} is not within the first ${size} events`);
  const all = leaves(db, logId, size);
  return {
    seq,
    size,
    leafHash: Buffer.from(all[seq] as Uint8Array).toString("base64"),
    proof: base64(inclusionProof(all, seq)),
  };
}

export function consistency(
  db: Database,
  logId: string,
  from: number,
  to: number,
): { from: number; to: number; proof: string[] } {
  signedSize(db, logId, from);
  signedSize(db, logId, to);
  if (from > to) throw new DomainError("rejected", "from must not exceed to");
  return { from, to, proof: base64(consistencyProof(leaves(db, logId, to), from)) };
}
