-- Foundation schema: the installation, tenants, their wrapped data keys, and the one-time setup token.
-- Tables that hold tenant data carry tenant_id NOT NULL; src/db is the only place that queries them.

CREATE TABLE installation (
  id              INTEGER PRIMARY KEY CHECK (id = 1),
  installation_id TEXT NOT NULL,
  created_at      TEXT NOT NULL
) STRICT;

CREATE TABLE tenants (
  id         TEXT PRIMARY KEY,
  slug       TEXT NOT NULL UNIQUE,
  name       TEXT NOT NULL,
  status     TEXT NOT NULL CHECK (status IN ('active', 'suspended')),
  created_at TEXT NOT NULL
) STRICT;

-- Data keys are stored only wrapped by the master key. tenant_id '_platform' holds the
-- installation root secret from which sub-keys are derived; it has no tenants row.
CREATE TABLE tenant_keys (
  tenant_id    TEXT NOT NULL,
  version      INTEGER NOT NULL CHECK (version > 0),
  master_label TEXT NOT NULL,
  wrapped      BLOB NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('active', 'retired')),
  created_at   TEXT NOT NULL,
  PRIMARY KEY (tenant_id, version)
) STRICT;

-- Only the SHA-256 of a setup token is kept; the token itself is shown once.
CREATE TABLE setup_tokens (
  id         INTEGER PRIMARY KEY,
  token_hash BLOB NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at    TEXT
) STRICT;
