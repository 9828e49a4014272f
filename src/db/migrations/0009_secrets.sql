-- Tenant secrets: credentials the server uses on a tenant's behalf (e.g. an external LLM
-- provider's API key). Write-only through the API; see docs/secrets.md.
--
-- value_enc is sealed with the tenant's DEK under FieldRef (tenant_secrets, value, id). The id
-- never changes, not even on rotation, so the AAD stays valid for re-encryption and a ciphertext
-- copied to another row or tenant does not open. description_enc is free text, sealed the same
-- way ('' when there is none). The name is an identifier from a restricted charset, kept in
-- plaintext so it can be looked up and kept unique per tenant; it must never hold a secret.
CREATE TABLE tenant_secrets (
  id              TEXT PRIMARY KEY,
  tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 63 AND name GLOB '[a-z0-9]*' AND name NOT GLOB '*[^a-z0-9_.-]*'),
  value_enc       BLOB NOT NULL,
  description_enc BLOB NOT NULL,
  version         INTEGER NOT NULL CHECK (version > 0),
  created_by      TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  rotated_by      TEXT NOT NULL,
  rotated_at      TEXT NOT NULL,
  UNIQUE (tenant_id, name)
) STRICT;
