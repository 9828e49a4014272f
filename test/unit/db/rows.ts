/** Rows, events and a sealed database for the tests of src/db: one set, shared by its test files. */
import { createHmac, randomBytes } from "node:crypto";
import { HmacAuditSealer } from "../../../src/audit/seal.js";
import { Database, type OpenOptions } from "../../../src/db/db.js";
import type { DomainEvent } from "../../../src/vocabulary/events.js";

export const T0 = "2026-01-01T00:00:00.000Z";

export const blob = (text: string): Uint8Array => new Uint8Array(Buffer.from(text));

/** An event a test write records with its change (the write path refuses a change without one). */
export const testEvent = (tenantId: string | null, name: DomainEvent["event"] = "user.updated"): DomainEvent => ({
  event: name,
  sensitivity: "security",
  severity: "info",
  tenantId,
  actor: { type: "system", id: "test" },
  payload: {},
});

export const userRow = (id: string) => ({
  id,
  kind: "human" as const,
  emailLookup: blob(`${id}-lookup`),
  emailEnc: blob("x"),
  nameEnc: blob("x"),
  role: "member" as const,
  auditor: false,
  passwordHash: null,
  status: "active" as const,
  createdAt: T0,
  updatedAt: T0,
});

export const tenantRow = (id: string) => ({
  id,
  slug: id,
  nameEnc: null,
  kind: "customer" as const,
  status: "active" as const,
  accessTokenTtlSeconds: 28_800,
  createdAt: T0,
});

/** Opens the database file with an audit sealer under a fresh key, as the services do. */
export function openSealed(file: string, options: OpenOptions = {}): Database {
  const db = Database.open(file, options);
  const key = randomBytes(32);
  db.setAuditSealer(new HmacAuditSealer({ mac: (data) => createHmac("sha256", key).update(data).digest() }));
  return db;
}
