-- Licensing and usage (docs/licensing.md). Platform-level tables: no tenant data, no tenant_id.
--
-- licenses: every license ever installed, as the armored text the vendor signed (re-verified on
-- read). The current one is the highest sequence; a new one must have a higher sequence, so an
-- older license cannot be installed again (replay, downgrade). Rows are never changed or deleted.
CREATE TABLE licenses (
  sequence     INTEGER PRIMARY KEY CHECK (sequence > 0),
  license_id   TEXT NOT NULL,
  kid          TEXT NOT NULL,
  text         TEXT NOT NULL,
  installed_at TEXT NOT NULL,
  installed_by TEXT NOT NULL
) STRICT;

CREATE TRIGGER licenses_no_update BEFORE UPDATE ON licenses
BEGIN
  SELECT RAISE(ABORT, 'installed licenses are append-only');
END;

CREATE TRIGGER licenses_no_delete BEFORE DELETE ON licenses
BEGIN
  SELECT RAISE(ABORT, 'installed licenses are append-only');
END;

-- Small named values of the licensing machinery: the clock's high-water mark, whether a clock
-- rollback incident is open, the license state last seen.
CREATE TABLE license_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

-- Clock rollbacks: the clock was found earlier than the high-water mark by more than the
-- tolerance. One row per incident; each is also an audit event and goes into the next snapshot.
CREATE TABLE clock_rollbacks (
  id             INTEGER PRIMARY KEY,
  detected_at    TEXT NOT NULL,
  high_water     TEXT NOT NULL,
  behind_seconds INTEGER NOT NULL CHECK (behind_seconds > 0),
  source         TEXT NOT NULL
) STRICT;

CREATE TRIGGER clock_rollbacks_no_update BEFORE UPDATE ON clock_rollbacks
BEGIN
  SELECT RAISE(ABORT, 'clock rollback records are append-only');
END;

CREATE TRIGGER clock_rollbacks_no_delete BEFORE DELETE ON clock_rollbacks
BEGIN
  SELECT RAISE(ABORT, 'clock rollback records are append-only');
END;

-- Daily usage snapshots: counts only. `body` is the signed snapshot as canonical JSON (it holds
-- seq, day, prevHash and the Ed25519 signature); `hash` is SHA-256 of it, the next one's prevHash.
CREATE TABLE usage_snapshots (
  seq               INTEGER PRIMARY KEY CHECK (seq > 0),
  day               TEXT NOT NULL UNIQUE,
  body              TEXT NOT NULL,
  hash              TEXT NOT NULL,
  rollbacks_through INTEGER NOT NULL,
  created_at        TEXT NOT NULL
) STRICT;

CREATE TRIGGER usage_snapshots_no_update BEFORE UPDATE ON usage_snapshots
BEGIN
  SELECT RAISE(ABORT, 'usage snapshots are append-only');
END;

CREATE TRIGGER usage_snapshots_no_delete BEFORE DELETE ON usage_snapshots
BEGIN
  SELECT RAISE(ABORT, 'usage snapshots are append-only');
END;
