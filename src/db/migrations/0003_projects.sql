-- Projects and their members. A tenant admin sees every project of its tenant; anyone else
-- reaches a project only as a member, with the project role capping what it may do there.

CREATE TABLE projects (
  id          TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  name_enc    BLOB NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('active', 'archived')),
  created_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  UNIQUE (tenant_id, id)
) STRICT;

-- Lets memberships reference (tenant, user) pairs, so they cannot cross tenants.
CREATE UNIQUE INDEX users_tenant_id ON users (tenant_id, id);

CREATE TABLE project_members (
  tenant_id  TEXT NOT NULL,
  project_id TEXT NOT NULL,
  user_id    TEXT NOT NULL,
  role       TEXT NOT NULL CHECK (role IN ('editor', 'viewer')),
  added_at   TEXT NOT NULL,
  PRIMARY KEY (project_id, user_id),
  -- Composite keys: a membership can only join a project and a user of the same tenant.
  FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX project_members_user ON project_members (tenant_id, user_id);
