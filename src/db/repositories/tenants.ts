/** Tenant records (platform level: the platform root manages them, never their content). */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

export type TenantKind = "platform" | "customer";

/** Which reads leave an audit event (migration 0013; src/audit/read-audit.ts). */
export type ReadAuditLevel = "off" | "sensitive" | "all";

export interface Tenant {
  readonly id: string;
  readonly slug: string;
  /**
   * The display name, sealed with the tenant's data key (FieldRef tenants|name|id); null only for a row from before
   * 0011 not yet sealed.
   */
  readonly nameEnc: Uint8Array | null;
  readonly kind: TenantKind;
  readonly status: "active" | "suspended";
  /** Lifetime of access tokens issued to this tenant's users. */
  readonly accessTokenTtlSeconds: number;
  readonly readAudit: ReadAuditLevel;
  readonly createdAt: string;
}

interface TenantRow {
  id: string;
  slug: string;
  name_enc: Buffer | null;
  kind: TenantKind;
  status: "active" | "suspended";
  access_token_ttl_seconds: number;
  read_audit: ReadAuditLevel;
  created_at: string;
}

const COLUMNS = "id, slug, name_enc, kind, status, access_token_ttl_seconds, read_audit, created_at";

function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id,
    slug: row.slug,
    nameEnc: row.name_enc === null ? null : new Uint8Array(row.name_enc),
    kind: row.kind,
    status: row.status,
    accessTokenTtlSeconds: row.access_token_ttl_seconds,
    readAudit: row.read_audit,
    createdAt: row.created_at,
  };
}

export class TenantRepository {
  constructor(private readonly handle: BetterSqlite3.Database) {}

  /** A new tenant reads-audits at the column's default ('sensitive', migration 0013) until its admin changes it. */
  create(tenant: Omit<Tenant, "readAudit">): void {
    statement(
      this.handle,
      "INSERT INTO tenants (name, id, slug, name_enc, kind, status, access_token_ttl_seconds, " +
        "created_at) VALUES ('', ?, ?, ?, ?, ?, ?, ?)",
    ).run(
      tenant.id,
      tenant.slug,
      tenant.nameEnc === null ? null : Buffer.from(tenant.nameEnc),
      tenant.kind,
      tenant.status,
      tenant.accessTokenTtlSeconds,
      tenant.createdAt,
    );
  }

  get(id: string): Tenant | undefined {
    const row = statement<[string], TenantRow>(this.handle, `SELECT ${COLUMNS} FROM tenants WHERE id = ?`).get(id);
    return row ? toTenant(row) : undefined;
  }

  getBySlug(slug: string): Tenant | undefined {
    const row = statement<[string], TenantRow>(this.handle, `SELECT ${COLUMNS} FROM tenants WHERE slug = ?`).get(slug);
    return row ? toTenant(row) : undefined;
  }

  /** The one tenant that holds the platform root's account; undefined before setup. */
  platformTenant(): Tenant | undefined {
    const row = statement<[], TenantRow>(this.handle, `SELECT ${COLUMNS} FROM tenants WHERE kind = 'platform'`).get();
    return row ? toTenant(row) : undefined;
  }

  /** Customer tenants, keyset-paginated by id. */
  list(after?: string, limit = 100): Tenant[] {
    return statement<[string, number], TenantRow>(
      this.handle,
      `SELECT ${COLUMNS} FROM tenants WHERE kind = 'customer' AND id > ? ORDER BY id LIMIT ?`,
    )
      .all(after ?? "", limit)
      .map(toTenant);
  }

  /**
   * Deletes a customer tenant; its users, sessions, tokens, projects, nodes and edges go with it (ON DELETE CASCADE).
   */
  erase(id: string): boolean {
    return statement(this.handle, "DELETE FROM tenants WHERE id = ? AND kind = 'customer'").run(id).changes === 1;
  }

  update(
    id: string,
    changes: {
      status?: Tenant["status"];
      nameEnc?: Uint8Array;
      accessTokenTtlSeconds?: number;
      readAudit?: ReadAuditLevel;
    },
  ): boolean {
    const current = this.get(id);
    if (!current || current.kind !== "customer") return false;
    const nameEnc = changes.nameEnc ?? current.nameEnc;
    return (
      statement(
        this.handle,
        "UPDATE tenants SET status = ?, name = '', name_enc = ?, access_token_ttl_seconds = ?, " +
          "read_audit = ? WHERE id = ? AND kind = 'customer'",
      ).run(
        changes.status ?? current.status,
        nameEnc === null ? null : Buffer.from(nameEnc),
        changes.accessTokenTtlSeconds ?? current.accessTokenTtlSeconds,
        changes.readAudit ?? current.readAudit,
        id,
      ).changes === 1
    );
  }

  /** Names still in plaintext (rows from before migration 0011), for sealing at start. */
  plaintextNames(): { id: string; name: string }[] {
    return statement<[], { id: string; name: string }>(
      this.handle,
      "SELECT id, name FROM tenants WHERE name_enc IS NULL AND name <> '' ORDER BY id",
    ).all();
  }

  /** Replaces a plaintext name by its sealed form, only if it is still the plaintext that was sealed. */
  sealPlaintextName(id: string, name: string, nameEnc: Uint8Array): boolean {
    return (
      statement(
        this.handle,
        "UPDATE tenants SET name = '', name_enc = ? WHERE id = ? AND name = ? AND name_enc IS NULL",
      ).run(Buffer.from(nameEnc), id, name).changes === 1
    );
  }
}

/** A tenant's own record, as its door shows it: the tenant id is bound at construction. */
export class OwnTenantRepository {
  /** All of it is reading (tenant records change at platform level). */
  static readonly reads = ["get"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  get(): Tenant | undefined {
    const row = statement<[string], TenantRow>(this.handle, `SELECT ${COLUMNS} FROM tenants WHERE id = ?`).get(
      this.tenantId,
    );
    return row ? toTenant(row) : undefined;
  }
}
