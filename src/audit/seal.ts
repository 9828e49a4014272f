/**
 * Turning an event into an audit row: the datasheet's event shape, canonical JSON (RFC 8785, so
 * any verifier re-creates the same bytes), an HMAC-SHA256 signature over it, and the Merkle leaf
 * hash of the signed event (RFC 6962: SHA-256(0x00 || bytes)).
 */
import canonicalizeModule from "canonicalize";
import type { MacKey } from "../crypto/index.js";
import { leafHash } from "./merkle.js";
import type { AuditPosition, AuditRow, AuditSealer } from "../db/repositories/audit-log.js";
import type { DomainEvent } from "../vocabulary/events.js";

// canonicalize is CommonJS (module.exports = function); its typings declare an ES default export
// instead, so TypeScript sees the module object. At run time the default import is the function.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

function canonical(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error("audit event is not serialisable");
  return text;
}

/** The event exactly as the datasheet shows it, with its position; `signature` is added after signing. */
export function unsignedEvent(row: Omit<AuditRow, "signature" | "leafHash">): Record<string, unknown> {
  return eventRecord(row, JSON.parse(row.payload) as unknown);
}

/** unsignedEvent with the payload given as a value (sealing has it; a stored row has its canonical JSON). */
function eventRecord(row: Omit<AuditRow, "signature" | "leafHash">, payload: unknown): Record<string, unknown> {
  return {
    vid: row.vid,
    log: row.tenantId,
    seq: row.seq,
    event: row.event,
    scope: row.scope,
    sensitivity: row.sensitivity,
    severity: row.severity,
    actor: { type: row.actorType, id: row.actorId, name: row.actorName },
    scope_vid: row.scopeVid,
    timestamp: row.timestamp,
    payload,
  };
}

export function signedEvent(row: AuditRow): Record<string, unknown> {
  return { ...unsignedEvent(row), signature: Buffer.from(row.signature).toString("base64") };
}

/** The bytes the HMAC covers, and the bytes the Merkle leaf covers: both canonical JSON. */
export function signatureInput(row: Omit<AuditRow, "signature" | "leafHash">): Uint8Array {
  return Buffer.from(canonical(unsignedEvent(row)), "utf8");
}

export function leafInput(row: AuditRow): Uint8Array {
  return Buffer.from(canonical(signedEvent(row)), "utf8");
}

export function leafHashOf(row: AuditRow): Uint8Array {
  return leafHash(leafInput(row));
}

function scopeOf(event: DomainEvent): AuditRow["scope"] {
  if (event.tenantId === null) return "infra";
  return typeof event.payload.projectId === "string" ? "project" : "tenant";
}

export class HmacAuditSealer implements AuditSealer {
  /** `key`: the "audit-hmac" handle of src/crypto (CryptoService.mac); the key itself stays there. */
  constructor(private readonly key: Pick<MacKey, "mac">) {}

  seal(event: DomainEvent, position: AuditPosition): AuditRow {
    const scope = scopeOf(event);
    const unsigned = {
      vid: position.vid,
      tenantId: position.logId,
      seq: position.seq,
      event: event.event,
      scope,
      sensitivity: event.sensitivity,
      severity: event.severity,
      actorType: event.actor.type,
      actorId: event.actor.id,
      actorName: null,
      scopeVid: scope === "project" ? (event.payload.projectId as string) : event.tenantId,
      timestamp: position.timestamp,
      payload: canonical(event.payload),
    } as const;
    // The same bytes signatureInput and leafInput give for the stored row (verify recomputes them
    // there), built from the payload value at hand instead of parsing its canonical JSON back.
    const record = eventRecord(unsigned, event.payload);
    const signature = this.key.mac(Buffer.from(canonical(record), "utf8"));
    const signedRecord = { ...record, signature: Buffer.from(signature).toString("base64") };
    return { ...unsigned, signature, leafHash: leafHash(Buffer.from(canonical(signedRecord), "utf8")) };
  }
}
