-- Agents' autonomy (issue 16 point 4): levels per project, per agent and per task type, comments on
-- nodes, and drafts (a node or edge kept out of the graph's effect until a human approves it).

-- One row per rule; a NULL agent or task type means "any". The most specific rule wins
-- (src/auth/autonomy.ts, docs/agents.md). A rule goes with its project or its agent.
CREATE TABLE autonomy_rules (
  tenant_id  TEXT NOT NULL,
  project_id TEXT NOT NULL,
  agent_id   TEXT,
  task_type  TEXT CHECK (task_type IN ('comment', 'node.create', 'node.update', 'node.archive', 'edge.create', 'edge.delete')),
  level      TEXT NOT NULL CHECK (level IN ('observe', 'advise', 'assist', 'delegate', 'automate')),
  set_by     TEXT NOT NULL,
  set_at     TEXT NOT NULL,
  FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id) ON DELETE CASCADE,
  FOREIGN KEY (tenant_id, agent_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE UNIQUE INDEX autonomy_rules_key
  ON autonomy_rules (tenant_id, project_id, coalesce(agent_id, ''), coalesce(task_type, ''));

-- Comments on a node: the body is tenant content, sealed like a node's body.
CREATE TABLE comments (
  id          TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL,
  project_id  TEXT NOT NULL,
  node_id     TEXT NOT NULL,
  body_enc    BLOB NOT NULL,
  author_type TEXT NOT NULL CHECK (author_type IN ('human', 'agent')),
  author_id   TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  FOREIGN KEY (tenant_id, project_id, node_id) REFERENCES nodes (tenant_id, project_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX comments_by_node ON comments (tenant_id, node_id, created_at, id);

-- A draft takes effect only when a human approves it: 1 until then.
ALTER TABLE nodes ADD COLUMN draft INTEGER NOT NULL DEFAULT 0 CHECK (draft IN (0, 1));
ALTER TABLE edges ADD COLUMN draft INTEGER NOT NULL DEFAULT 0 CHECK (draft IN (0, 1));

-- What a node held before an agent changed it, so that a person can undo the change (docs/agents.md,
-- "Undoing what an agent did"). Title and body sealed like the node's own; gone with the node's erasure.
CREATE TABLE node_revisions (
  id          TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL,
  project_id  TEXT NOT NULL,
  node_id     TEXT NOT NULL,
  version     INTEGER NOT NULL,
  status      TEXT NOT NULL,
  review_kind TEXT,
  verdict     TEXT,
  title_enc   BLOB NOT NULL,
  body_enc    BLOB NOT NULL,
  changed_by  TEXT NOT NULL,
  changed_at  TEXT NOT NULL,
  FOREIGN KEY (tenant_id, project_id, node_id) REFERENCES nodes (tenant_id, project_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX node_revisions_by_node ON node_revisions (tenant_id, node_id, version);
