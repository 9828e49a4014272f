-- One-time password reset tokens a tenant admin issues for a user (docs/authentication.md).
-- Only the SHA-256 of the token is stored; at most one per user (a new one replaces the old);
-- a redeemed token's row is deleted, so it cannot be used twice. Rows die with their user or tenant.
CREATE TABLE password_resets (
  token_hash  BLOB PRIMARY KEY,
  tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  expires_at  TEXT NOT NULL
) STRICT;
CREATE INDEX password_resets_user ON password_resets (tenant_id, user_id);
