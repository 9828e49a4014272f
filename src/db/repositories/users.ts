/** Users of a tenant (and the platform root, who lives in the platform tenant). Every statement binds tenant_id. */
import type BetterSqlite3 from "better-sqlite3";
import type { Role } from "../../vocabulary/roles.js";
import type { ActorKind } from "../../vocabulary/events.js";
import { statement } from "../statements.js";

export type UserStatus = "active" | "disabled";

export interface UserRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly kind: ActorKind;
  readonly emailLookup: Uint8Array;
  readonly emailEnc: Uint8Array;
  readonly nameEnc: Uint8Array;
  readonly role: Role;
  readonly auditor: boolean;
  readonly passwordHash: string | null;
  readonly status: UserStatus;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface UserChanges {
  readonly role?: Role;
  readonly auditor?: boolean;
  readonly status?: UserStatus;
  readonly nameEnc?: Uint8Array;
  readonly passwordHash?: string;
}

interface UserRow {
  id: string;
  tenant_id: string;
  kind: ActorKind;
  email_lookup: Buffer;
  email_enc: Buffer;
  name_enc: Buffer;
  role: Role;
  auditor: number;
  password_hash: string | null;
  status: UserStatus;
  created_at: string;
  updated_at: string;
}

const COLUMNS =
  "id, tenant_id, kind, email_lookup, email_enc, name_enc, role, auditor, password_hash, status, " +
  "created_at, updated_at";

function toUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind,
    emailLookup: new Uint8Array(row.email_lookup),
    emailEnc: new Uint8Array(row.email_enc),
    nameEnc: new Uint8Array(row.name_enc),
    role: row.role,
    auditor: row.auditor === 1,
    passwordHash: row.password_hash,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** One tenant's users: the tenant id is bound at construction and in every statement. */
export class UserRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["get", "findByEmail", "list", "countByRole"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  get(id: string): UserRecord | undefined {
    const row = statement<[string, string], UserRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM users WHERE tenant_id = ? AND id = ?`,
    ).get(this.tenantId, id);
    return row ? toUser(row) : undefined;
  }

  findByEmail(emailLookup: Uint8Array): UserRecord | undefined {
    const row = statement<[string, Buffer], UserRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM users WHERE tenant_id = ? AND email_lookup = ?`,
    ).get(this.tenantId, Buffer.from(emailLookup));
    return row ? toUser(row) : undefined;
  }

  /** Keyset-paginated, oldest first. */
  list(after: string | undefined, limit: number): UserRecord[] {
    return statement<[string, string, number], UserRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM users WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?`,
    )
      .all(this.tenantId, after ?? "", limit)
      .map(toUser);
  }

  countByRole(role: Role): number {
    const row = statement<[string, Role], { n: number }>(
      this.handle,
      "SELECT count(*) AS n FROM users WHERE tenant_id = ? AND role = ? AND status = 'active'",
    ).get(this.tenantId, role);
    return row?.n ?? 0;
  }

  insert(user: Omit<UserRecord, "tenantId">): void {
    statement(
      this.handle,
      `INSERT INTO users (id, tenant_id, kind, email_lookup, email_enc, name_enc, role, auditor, password_hash,
           status, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      user.id,
      this.tenantId,
      user.kind,
      Buffer.from(user.emailLookup),
      Buffer.from(user.emailEnc),
      Buffer.from(user.nameEnc),
      user.role,
      user.auditor ? 1 : 0,
      user.passwordHash,
      user.status,
      user.createdAt,
      user.updatedAt,
    );
  }

  update(id: string, changes: UserChanges, now: string): boolean {
    const current = this.get(id);
    if (!current) return false;
    const result = statement(
      this.handle,
      "UPDATE users SET role = ?, auditor = ?, status = ?, name_enc = ?, password_hash = ?, updated_at " +
        "= ? WHERE tenant_id = ? AND id = ?",
    ).run(
      changes.role ?? current.role,
      (changes.auditor ?? current.auditor) ? 1 : 0,
      changes.status ?? current.status,
      Buffer.from(changes.nameEnc ?? current.nameEnc),
      changes.passwordHash ?? current.passwordHash,
      now,
      this.tenantId,
      id,
    );
    return result.changes === 1;
  }

  /**
   * GDPR erasure of a person: new (pseudonymous) email and name, no password, disabled; the id stays so provenance
   * survives.
   */
  pseudonymise(id: string, profile: Pick<UserRecord, "emailLookup" | "emailEnc" | "nameEnc">, now: string): boolean {
    return (
      statement(
        this.handle,
        "UPDATE users SET email_lookup = ?, email_enc = ?, name_enc = ?, password_hash = NULL, status " +
          "= 'disabled', updated_at = ? " +
          "WHERE tenant_id = ? AND id = ?",
      ).run(
        Buffer.from(profile.emailLookup),
        Buffer.from(profile.emailEnc),
        Buffer.from(profile.nameEnc),
        now,
        this.tenantId,
        id,
      ).changes === 1
    );
  }

  delete(id: string): boolean {
    return (
      statement(this.handle, "DELETE FROM users WHERE tenant_id = ? AND id = ?").run(this.tenantId, id).changes === 1
    );
  }
}
