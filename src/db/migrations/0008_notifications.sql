-- User-facing notifications. Each one names the audit event that caused it (NOT NULL, foreign
-- key): no notification can exist without its audit provenance (datasheet section 5).
CREATE TABLE notifications (
  id                     TEXT PRIMARY KEY,
  tenant_id              TEXT NOT NULL,
  user_id                TEXT NOT NULL,
  triggered_by_audit_vid TEXT NOT NULL REFERENCES audit_events (vid),
  message                TEXT NOT NULL,
  created_at             TEXT NOT NULL,
  read_at                TEXT,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX notifications_by_user ON notifications (tenant_id, user_id, created_at);
