-- Read auditing per tenant (docs/audit.md "Read events"): which reads leave an event in the
-- tenant's audit log. 'sensitive' (the default, also for tenants that exist already): exports,
-- audit-log reads, secret metadata and key views; 'all': every read of the tenant's data too;
-- 'off': none. Changes, audited, are recorded by the audit trail; the writes themselves always are.
ALTER TABLE tenants ADD COLUMN read_audit TEXT NOT NULL DEFAULT 'sensitive' CHECK (read_audit IN ('off', 'sensitive', 'all'));
