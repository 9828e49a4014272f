-- The graph: typed nodes (title and body encrypted with the tenant DEK) and typed edges.
-- Composite foreign keys make an edge's ends belong to its project and tenant, so no edge can
-- cross a project or a tenant whatever the code above does.

CREATE TABLE nodes (
  id           TEXT PRIMARY KEY,
  tenant_id    TEXT NOT NULL,
  project_id   TEXT NOT NULL,
  type         TEXT NOT NULL CHECK (type IN ('idea', 'decision', 'review', 'task', 'release', 'note')),
  status       TEXT NOT NULL,
  review_kind  TEXT CHECK (review_kind IN ('security', 'design', 'code', 'legal', 'other')),
  verdict      TEXT CHECK (verdict IN ('approved', 'changes_requested', 'rejected')),
  title_enc    BLOB NOT NULL,
  body_enc     BLOB NOT NULL,
  author_type  TEXT NOT NULL CHECK (author_type IN ('human', 'agent')),
  author_id    TEXT NOT NULL,
  version      INTEGER NOT NULL CHECK (version > 0),
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  archived_at  TEXT,
  CHECK (
    (type = 'idea' AND status IN ('open', 'adopted', 'discarded')) OR
    (type = 'decision' AND status IN ('proposed', 'accepted', 'deprecated', 'superseded')) OR
    (type = 'review' AND status IN ('open', 'done')) OR
    (type = 'task' AND status IN ('todo', 'doing', 'done', 'cancelled')) OR
    (type = 'release' AND status IN ('planned', 'released', 'withdrawn')) OR
    (type = 'note' AND status = 'open')
  ),
  CHECK (type = 'review' OR (review_kind IS NULL AND verdict IS NULL)),
  UNIQUE (tenant_id, project_id, id),
  FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX nodes_by_update ON nodes (tenant_id, project_id, updated_at, id);
CREATE INDEX nodes_by_type ON nodes (tenant_id, project_id, type, status);

CREATE TABLE edges (
  id          TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL,
  project_id  TEXT NOT NULL,
  type        TEXT NOT NULL CHECK (type IN ('originates_from', 'decided_by', 'reviewed_in', 'implements', 'ships_in', 'supersedes', 'blocks', 'duplicates', 'relates', 'parent_of')),
  from_id     TEXT NOT NULL,
  to_id       TEXT NOT NULL,
  created_by  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  CHECK (from_id <> to_id),
  UNIQUE (tenant_id, type, from_id, to_id),
  FOREIGN KEY (tenant_id, project_id, from_id) REFERENCES nodes (tenant_id, project_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, project_id, to_id) REFERENCES nodes (tenant_id, project_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX edges_from ON edges (tenant_id, from_id, type);
CREATE INDEX edges_to ON edges (tenant_id, to_id, type);

-- Title search over encrypted titles: keyed hashes of the title's words (see docs/security-model.md).
CREATE TABLE node_terms (
  tenant_id TEXT NOT NULL,
  term      BLOB NOT NULL,
  node_id   TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
  PRIMARY KEY (tenant_id, term, node_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX node_terms_node ON node_terms (tenant_id, node_id);
