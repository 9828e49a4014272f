-- Tenant keys now live in the keystore file (src/db/keystore.ts moves existing rows there, and
-- checks the copy, before this migration runs).
DROP TABLE IF EXISTS tenant_keys;
