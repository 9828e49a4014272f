-- Rotation: a data key may be wrapped under several master keys at once (while a master key is
-- rotated), so wraps move to a table of their own. Each data key counts the encryptions reserved
-- under it (rotation is forced long before 2^32 random-nonce encryptions), and master keys get a
-- registry with versions and retirement.
CREATE TABLE key_wraps (
  tenant_id    TEXT NOT NULL,
  version      INTEGER NOT NULL,
  master_label TEXT NOT NULL,
  wrapped      BLOB NOT NULL,
  created_at   TEXT NOT NULL,
  PRIMARY KEY (tenant_id, version, master_label),
  FOREIGN KEY (tenant_id, version) REFERENCES tenant_keys (tenant_id, version) ON DELETE CASCADE
) STRICT;

INSERT INTO key_wraps (tenant_id, version, master_label, wrapped, created_at)
  SELECT tenant_id, version, master_label, wrapped, created_at FROM tenant_keys;

ALTER TABLE tenant_keys DROP COLUMN master_label;
ALTER TABLE tenant_keys DROP COLUMN wrapped;
ALTER TABLE tenant_keys ADD COLUMN encryptions INTEGER NOT NULL DEFAULT 0 CHECK (encryptions >= 0);
-- Set when re-encryption finds no row sealed under an older version; retired a grace period later.
ALTER TABLE tenant_keys ADD COLUMN unused_since TEXT;
ALTER TABLE tenant_keys ADD COLUMN retired_at TEXT;

CREATE TABLE master_keys (
  label      TEXT PRIMARY KEY,
  version    INTEGER NOT NULL UNIQUE CHECK (version > 0),
  kind       TEXT NOT NULL CHECK (kind IN ('env', 'pkcs11')),
  created_at TEXT NOT NULL,
  retired_at TEXT
) STRICT;

INSERT INTO master_keys (label, version, kind, created_at)
  SELECT master_label, row_number() OVER (ORDER BY first_use, master_label),
         CASE WHEN master_label LIKE 'pkcs11:%' THEN 'pkcs11' ELSE 'env' END, first_use
  FROM (SELECT master_label, min(created_at) AS first_use FROM key_wraps GROUP BY master_label);
