-- Identity: users (the platform root lives in the one tenant of kind 'platform'), sessions with
-- rotating refresh tokens, personal access tokens, the JWT key ring, and login throttling.

ALTER TABLE tenants ADD COLUMN kind TEXT NOT NULL DEFAULT 'customer' CHECK (kind IN ('platform', 'customer'));
CREATE UNIQUE INDEX tenants_one_platform ON tenants (kind) WHERE kind = 'platform';
ALTER TABLE tenants ADD COLUMN access_token_ttl_seconds INTEGER NOT NULL DEFAULT 28800 CHECK (access_token_ttl_seconds BETWEEN 300 AND 86400);

-- email and name are encrypted with the tenant's DEK; email_lookup is an HMAC blind index
-- (keyed by an installation sub-key) so a login can find the row without the plaintext.
CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  kind          TEXT NOT NULL CHECK (kind IN ('human', 'agent')),
  email_lookup  BLOB NOT NULL,
  email_enc     BLOB NOT NULL,
  name_enc      BLOB NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('platform_root', 'tenant_admin', 'member', 'viewer')),
  auditor       INTEGER NOT NULL DEFAULT 0 CHECK (auditor IN (0, 1)),
  password_hash TEXT,
  status        TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL,
  UNIQUE (tenant_id, email_lookup)
) STRICT;

-- A session is one refresh-token family; access tokens name it (sid) and die with it.
CREATE TABLE sessions (
  id            TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at    TEXT NOT NULL,
  expires_at    TEXT NOT NULL,
  last_used_at  TEXT NOT NULL,
  revoked_at    TEXT,
  revoke_reason TEXT,
  client        TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

CREATE TABLE refresh_tokens (
  token_hash  BLOB PRIMARY KEY,
  tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
  created_at  TEXT NOT NULL,
  expires_at  TEXT NOT NULL,
  used_at     TEXT
) STRICT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (tenant_id, session_id);

CREATE TABLE personal_access_tokens (
  id           TEXT PRIMARY KEY,
  tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  token_hash   BLOB NOT NULL UNIQUE,
  scopes       TEXT NOT NULL,
  project_id   TEXT,
  created_at   TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at   TEXT
) STRICT;
CREATE INDEX pats_user ON personal_access_tokens (tenant_id, user_id);

-- The JWT key ring holds key ids only: each secret is derived from the installation root secret
-- and the kid, so no signing secret is ever stored.
CREATE TABLE jwt_keys (
  kid        TEXT PRIMARY KEY,
  created_at TEXT NOT NULL,
  retired_at TEXT
) STRICT;

CREATE TABLE login_throttle (
  key          TEXT PRIMARY KEY,
  failures     INTEGER NOT NULL,
  last_failure TEXT NOT NULL,
  blocked_until TEXT
) STRICT;
