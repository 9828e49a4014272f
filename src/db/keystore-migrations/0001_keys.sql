-- The keystore: tenant data keys (and the installation root secret, tenant_id '_platform'),
-- stored only wrapped by the master key, in a file of their own. Data backups do not contain
-- this file, so erasing a tenant's keys here makes every copy of its data unreadable.
CREATE TABLE tenant_keys (
  tenant_id    TEXT NOT NULL,
  version      INTEGER NOT NULL CHECK (version > 0),
  master_label TEXT NOT NULL,
  wrapped      BLOB NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('active', 'retired')),
  created_at   TEXT NOT NULL,
  PRIMARY KEY (tenant_id, version)
) STRICT;
