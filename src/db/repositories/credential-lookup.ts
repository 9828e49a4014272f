/**
 * The lookups that find WHICH tenant a presented credential belongs to: a personal access token,
 * a refresh token or a password-reset token by its hash, and an account by its e-mail lookup in
 * the tenant named at login. They precede any tenant scope (they are what establishes it), so
 * they cannot go through a tenant's door; every other read and every change does, once
 * src/auth has verified the credential and minted the scope.
 *
 * Only src/auth uses this (test/unit/architecture.test.ts). Each hash lookup is on the tenancy
 * test's short allow-list, with its reason; the e-mail lookup binds the tenant it is given.
 */
import type BetterSqlite3 from "better-sqlite3";
import { toPasswordReset, type PasswordResetRecord, type PasswordResetRow } from "./password-resets.js";
import { toPersonalToken, type PersonalTokenRecord, type PersonalTokenRow } from "./personal-tokens.js";
import { toRefreshToken, type RefreshRow, type RefreshTokenRecord } from "./sessions.js";
import { UserRepository, type UserRecord } from "./users.js";
import { statement } from "../statements.js";

export class CredentialLookup {
  constructor(private readonly handle: BetterSqlite3.Database) {}

  /** A personal access token by the hash of the presented token. */
  personalToken(tokenHash: Uint8Array): PersonalTokenRecord | undefined {
    const row = statement<[Buffer], PersonalTokenRow>(
      this.handle,
      "SELECT id, tenant_id, user_id, name, token_hash, scopes, project_id, created_at, expires_at, " +
        "last_used_at, revoked_at " +
        "FROM personal_access_tokens " +
        "WHERE token_hash = ?",
    ).get(Buffer.from(tokenHash));
    return row ? toPersonalToken(row) : undefined;
  }

  /** A refresh token's row by the hash of the presented token. */
  refreshToken(tokenHash: Uint8Array): RefreshTokenRecord | undefined {
    const row = statement<[Buffer], RefreshRow>(
      this.handle,
      "SELECT token_hash, tenant_id, session_id, created_at, expires_at, used_at " +
        "FROM refresh_tokens WHERE token_hash = ?",
    ).get(Buffer.from(tokenHash));
    return row ? toRefreshToken(row) : undefined;
  }

  /** A password reset by the hash of the presented token. */
  passwordReset(tokenHash: Uint8Array): PasswordResetRecord | undefined {
    const row = statement<[Buffer], PasswordResetRow>(
      this.handle,
      "SELECT token_hash, tenant_id, user_id, created_by, created_at, expires_at " +
        "FROM password_resets " +
        "WHERE token_hash = ?",
    ).get(Buffer.from(tokenHash));
    return row ? toPasswordReset(row) : undefined;
  }

  /** The account a login names: by e-mail lookup, within the tenant the login named (its slug, or the platform). */
  userByEmail(tenantId: string, emailLookup: Uint8Array): UserRecord | undefined {
    return new UserRepository(this.handle, tenantId).findByEmail(emailLookup);
  }
}
