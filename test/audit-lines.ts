/** Exported audit lines (JSON Lines), as a reader of an export sees them, and what a verifier re-creates from one. */
import type { AuditRow } from "../src/db/repositories/audit-log.js";

export interface AuditLine {
  vid: string;
  log: string;
  seq: number;
  event: string;
  scope: AuditRow["scope"];
  sensitivity: AuditRow["sensitivity"];
  severity: AuditRow["severity"];
  actor: { type: AuditRow["actorType"]; id: string | null; name: string | null };
  scope_vid: string | null;
  timestamp: string;
  payload: Record<string, unknown>;
  signature: string;
  redacted?: true;
  /** Looked up at read time; not part of the signed event. */
  actor_name: string | null;
}

export function parseJsonl(text: string): AuditLine[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as AuditLine);
}

/** The HMAC input re-created from an exported line, as a verifier holding the key would (actor_name is not in it). */
export function signedRowOf(line: AuditLine): Omit<AuditRow, "signature" | "leafHash"> {
  return {
    vid: line.vid,
    tenantId: line.log,
    seq: line.seq,
    event: line.event,
    scope: line.scope,
    sensitivity: line.sensitivity,
    severity: line.severity,
    actorType: line.actor.type,
    actorId: line.actor.id,
    actorName: line.actor.name,
    scopeVid: line.scope_vid,
    timestamp: line.timestamp,
    // The canonical payload had sorted keys; JSON.parse kept that order, so stringify gives the same bytes back.
    payload: JSON.stringify(line.payload),
  };
}
