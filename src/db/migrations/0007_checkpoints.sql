-- Signed checkpoints of each audit log (C2SP signed notes over the Merkle root at a size), with the
-- tree's frontier so the next checkpoint continues from here instead of rehashing the whole log.
CREATE TABLE audit_checkpoints (
  tenant_id  TEXT NOT NULL,
  size       INTEGER NOT NULL CHECK (size > 0),
  root_hash  BLOB NOT NULL,
  frontier   BLOB NOT NULL,
  note       TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, size)
) STRICT;
