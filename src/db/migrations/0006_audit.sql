-- The audit trail: one append-only log per scope (a tenant, or '_platform' for the installation).
-- Each row is HMAC-signed and is the next leaf of its scope's RFC 6962 Merkle tree (seq = leaf
-- index). Rows can be added, never changed or removed: the triggers refuse it, and the Merkle
-- log makes any change that bypasses them (a raw edit of the file) detectable.
CREATE TABLE audit_events (
  vid          TEXT PRIMARY KEY,
  tenant_id    TEXT NOT NULL,
  seq          INTEGER NOT NULL CHECK (seq >= 0),
  event        TEXT NOT NULL,
  scope        TEXT NOT NULL CHECK (scope IN ('infra', 'tenant', 'project', 'user')),
  sensitivity  TEXT NOT NULL CHECK (sensitivity IN ('normal', 'security')),
  severity     TEXT NOT NULL CHECK (severity IN ('info', 'warn', 'error', 'critical')),
  actor_type   TEXT NOT NULL CHECK (actor_type IN ('human', 'agent', 'system', 'anonymous')),
  actor_id     TEXT,
  actor_name   TEXT,
  scope_vid    TEXT,
  timestamp    TEXT NOT NULL,
  payload      TEXT NOT NULL,
  signature    BLOB NOT NULL,
  leaf_hash    BLOB NOT NULL,
  UNIQUE (tenant_id, seq)
) STRICT;
CREATE INDEX audit_by_time ON audit_events (tenant_id, timestamp, seq);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit events are append-only');
END;
