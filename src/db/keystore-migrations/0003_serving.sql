-- The master keys of the server running on this data directory (at most one: vecto.lock), so that
-- the CLI can tell when it still runs on a superseded or retired master key, and retire-master can
-- refuse to retire the key it still wraps new data keys under. Written at start, removed at a clean
-- stop; a row left by a crashed server is ignored because nobody holds vecto.lock then.
CREATE TABLE serving (
  id             INTEGER PRIMARY KEY CHECK (id = 1),
  pid            INTEGER NOT NULL,
  current_label  TEXT NOT NULL,
  loaded_labels  TEXT NOT NULL,
  started_at     TEXT NOT NULL
) STRICT;
