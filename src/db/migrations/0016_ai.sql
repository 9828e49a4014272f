-- AI governance (docs/ai.md): which provider and model each use case of a tenant calls, which
-- external providers the tenant enabled and with which of its secrets, and a record of every
-- call made to a language model.
--
-- ai_use_cases: one row per configured use case ('default' applies to those without their own).
-- The model name is an identifier the provider gives ("llama3.2:3b"), not tenant content.
CREATE TABLE ai_use_cases (
  tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  use_case   TEXT NOT NULL CHECK (use_case IN ('default', 'summarize', 'links', 'decision-draft')),
  provider   TEXT NOT NULL CHECK (provider IN ('ollama', 'openai', 'anthropic', 'google')),
  model      TEXT NOT NULL CHECK (length(model) BETWEEN 1 AND 200),
  updated_by TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (tenant_id, use_case)
) STRICT;

-- ai_providers: an external provider a tenant admin enabled, and the name of the tenant secret
-- (tenant_secrets) holding its API key. No row: the provider is off. Ollama needs no row.
CREATE TABLE ai_providers (
  tenant_id      TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  provider       TEXT NOT NULL CHECK (provider IN ('openai', 'anthropic', 'google')),
  enabled        INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  api_key_secret TEXT NOT NULL,
  updated_by     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  PRIMARY KEY (tenant_id, provider)
) STRICT;

-- ai_calls: every call to a language model, the same facts its ai.invoked audit event carries,
-- plus the payload (what was sent and what came back) sealed with the tenant's data key under
-- FieldRef (ai_calls, payload, id) until payload_expires_at; then payload_enc is set to NULL and
-- the rest stays (the usage report counts calls per provider from it). Erased with the tenant.
CREATE TABLE ai_calls (
  id                 TEXT PRIMARY KEY,
  tenant_id          TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  project_id         TEXT,
  actor_type         TEXT NOT NULL CHECK (actor_type IN ('human', 'agent')),
  actor_id           TEXT NOT NULL,
  use_case           TEXT NOT NULL,
  provider           TEXT NOT NULL,
  model              TEXT NOT NULL,
  outcome            TEXT NOT NULL CHECK (outcome IN ('ok', 'failed', 'timeout', 'unreachable', 'refused', 'aborted')),
  payload_sha256     TEXT,
  payload_bytes      INTEGER NOT NULL CHECK (payload_bytes >= 0),
  prompt_tokens      INTEGER,
  output_tokens      INTEGER,
  duration_ms        INTEGER NOT NULL CHECK (duration_ms >= 0),
  created_at         TEXT NOT NULL,
  payload_enc        BLOB,
  payload_expires_at TEXT
) STRICT;

CREATE INDEX ai_calls_by_time ON ai_calls (tenant_id, created_at);
CREATE INDEX ai_calls_payload_expiry ON ai_calls (tenant_id, payload_expires_at) WHERE payload_enc IS NOT NULL;
