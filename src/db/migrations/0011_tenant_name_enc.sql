-- A tenant's display name is customer content: sealed with the tenant's own data key under
-- FieldRef (tenants, name, id), like project and user names. Only the slug stays plain (it
-- routes sign-ins). SQL cannot encrypt, so rows that exist already keep their plaintext `name`
-- until the appliance seals it at its next start (src/auth/tenant-names.ts), which moves it into
-- name_enc and blanks `name` in one audited transaction. After that `name` is always '' (SQLite
-- cannot drop a NOT NULL column's constraint in place; the column stays, empty).
ALTER TABLE tenants ADD COLUMN name_enc BLOB;
