/**
 * The ordered list of schema migrations. SQL files are imported as text so that they travel
 * inside the single binary; a migration, once released, is never edited (its checksum is checked).
 */
import init from "./0001_init.sql";
import identity from "./0002_identity.sql";
import projects from "./0003_projects.sql";
import graph from "./0004_graph.sql";
import keystore from "./0005_keystore.sql";
import audit from "./0006_audit.sql";
import checkpoints from "./0007_checkpoints.sql";
import notifications from "./0008_notifications.sql";
import secrets from "./0009_secrets.sql";
import licenseUsage from "./0010_license_usage.sql";
import tenantNameEnc from "./0011_tenant_name_enc.sql";
import passwordResets from "./0012_password_resets.sql";
import readAudit from "./0013_read_audit.sql";
import signingKeys from "./0014_signing_keys.sql";
import autonomy from "./0015_autonomy.sql";
import ai from "./0016_ai.sql";
import keys from "../keystore-migrations/0001_keys.sql";
import keyRotation from "../keystore-migrations/0002_rotation.sql";
import keyServing from "../keystore-migrations/0003_serving.sql";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const migrations: readonly Migration[] = [
  { version: 1, name: "0001_init", sql: init },
  { version: 2, name: "0002_identity", sql: identity },
  { version: 3, name: "0003_projects", sql: projects },
  { version: 4, name: "0004_graph", sql: graph },
  { version: 5, name: "0005_keystore", sql: keystore },
  { version: 6, name: "0006_audit", sql: audit },
  { version: 7, name: "0007_checkpoints", sql: checkpoints },
  { version: 8, name: "0008_notifications", sql: notifications },
  { version: 9, name: "0009_secrets", sql: secrets },
  { version: 10, name: "0010_license_usage", sql: licenseUsage },
  { version: 11, name: "0011_tenant_name_enc", sql: tenantNameEnc },
  { version: 12, name: "0012_password_resets", sql: passwordResets },
  { version: 13, name: "0013_read_audit", sql: readAudit },
  { version: 14, name: "0014_signing_keys", sql: signingKeys },
  { version: 15, name: "0015_autonomy", sql: autonomy },
  { version: 16, name: "0016_ai", sql: ai },
];

/** Migrations of the keystore file (src/db/keystore.ts), versioned on their own. */
export const keystoreMigrations: readonly Migration[] = [
  { version: 1, name: "0001_keys", sql: keys },
  { version: 2, name: "0002_rotation", sql: keyRotation },
  { version: 3, name: "0003_serving", sql: keyServing },
];
