/** Tenant records (platform level: the platform root manages them, never their content). */
import type BetterSqlite3 from "better-sqlite3";

export type TenantKind = "platform" | "customer";

export interface Tenant {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly kind: TenantKind;
  readonly status: "active" | "suspended";
  /** Lifetime of access tokens issued to this tenant's users. */
  readonly accessTokenTtlSeconds: number;
  readonly createdAt: string;
}

interface TenantRow {
  id: string;
  slug: string;
  name: string;
  kind: TenantKind;
  status: "active" | "suspended";
  access_token_ttl_seconds: number;
  created_at: string;
}

const COLUMNS = "id, slug, name, kind, status, access_token_ttl_seconds, created_at";

function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    kind: row.kind,
    status: row.status,
    accessTokenTtlSeconds: row.access_token_ttl_seconds,
    createdAt: row.created_at,
  };
}

export class TenantRepository {
  constructor(private readonly handle: BetterSqlite3.Database) {}

  create(tenant: Tenant): void {
    this.handle
      .prepare(`INSERT INTO tenants (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`)
      .run(tenant.id, tenant.slug, tenant.name, tenant.kind, tenant.status, tenant.accessTokenTtlSeconds, tenant.createdAt);
  }

  get(id: string): Tenant | undefined {
    const row = this.handle.prepare<[string], TenantRow>(`SELECT ${COLUMNS} FROM tenants WHERE id = ?`).get(id);
    return row ? toTenant(row) : undefined;
  }

  getBySlug(slug: string): Tenant | undefined {
    const row = this.handle.prepare<[string], TenantRow>(`SELECT ${COLUMNS} FROM tenants WHERE slug = ?`).get(slug);
    return row ? toTenant(row) : undefined;
  }

  /** The one tenant that holds the platform root's account; undefined before setup. */
  platformTenant(): Tenant | undefined {
    const row = this.handle.prepare<[], TenantRow>(`SELECT ${COLUMNS} FROM tenants WHERE kind = 'platform'`).get();
    return row ? toTenant(row) : undefined;
  }

  /** Customer tenants, keyset-paginated by id. */
  list(after?: string, limit = 100): Tenant[] {
    return this.handle
      .prepare<[string, number], TenantRow>(`SELECT ${COLUMNS} FROM tenants WHERE kind = 'customer' AND id > ? ORDER BY id LIMIT ?`)
      .all(after ?? "", limit)
      .map(toTenant);
  }

  /** Deletes a customer tenant; its users, sessions, tokens, projects, nodes and edges go with it (ON DELETE CASCADE). */
  erase(id: string): boolean {
    return this.handle.prepare("DELETE FROM tenants WHERE id = ? AND kind = 'customer'").run(id).changes === 1;
  }

  update(id: string, changes: { status?: Tenant["status"]; name?: string; accessTokenTtlSeconds?: number }): boolean {
    const current = this.get(id);
    if (!current || current.kind !== "customer") return false;
    return (
      this.handle
        .prepare("UPDATE tenants SET status = ?, name = ?, access_token_ttl_seconds = ? WHERE id = ? AND kind = 'customer'")
        .run(changes.status ?? current.status, changes.name ?? current.name, changes.accessTokenTtlSeconds ?? current.accessTokenTtlSeconds, id).changes === 1
    );
  }
}
