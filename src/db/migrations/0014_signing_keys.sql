-- Separation of duties (docs/signing.md).
--
-- signing_keys: the Ed25519 public keys people register to sign critical sign-offs (a security
-- review approved, a release signed off). Public keys are not secret; like a personal access
-- token's name and scopes they are kept in plaintext. The key id is the first 16 hex digits of
-- SHA-256 of the raw key (as for license keys). A key is registered once per tenant, whoever holds
-- it: a revoked key stays on file, revoked, so it can be neither used nor registered again. Rows
-- die with their user or tenant.
CREATE TABLE signing_keys (
  id          TEXT NOT NULL CHECK (length(id) = 16),
  tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  public_key  BLOB NOT NULL CHECK (length(public_key) = 32),
  created_at  TEXT NOT NULL,
  revoked_at  TEXT,
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, public_key)
) STRICT;
CREATE INDEX signing_keys_user ON signing_keys (tenant_id, user_id);

-- Who made an edge, a person or an agent (nodes record it as author_type). Edges made before
-- this migration take their maker's kind from the users table; the maker of an edge whose account
-- was deleted since cannot be known and is recorded as 'human' (docs/graph.md, "Authorship").
ALTER TABLE edges ADD COLUMN created_by_type TEXT NOT NULL DEFAULT 'human' CHECK (created_by_type IN ('human', 'agent'));
UPDATE edges SET created_by_type = 'agent'
  WHERE EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = edges.tenant_id AND u.id = edges.created_by AND u.kind = 'agent');
