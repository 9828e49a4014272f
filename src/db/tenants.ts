/** Tenant records (platform level: the platform root manages them, never their content). */
import type BetterSqlite3 from "better-sqlite3";

export interface Tenant {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly status: "active" | "suspended";
  readonly createdAt: string;
}

interface TenantRow {
  id: string;
  slug: string;
  name: string;
  status: "active" | "suspended";
  created_at: string;
}

function toTenant(row: TenantRow): Tenant {
  return { id: row.id, slug: row.slug, name: row.name, status: row.status, createdAt: row.created_at };
}

export class TenantRepository {
  constructor(private readonly handle: BetterSqlite3.Database) {}

  create(tenant: Tenant): void {
    this.handle
      .prepare("INSERT INTO tenants (id, slug, name, status, created_at) VALUES (?, ?, ?, ?, ?)")
      .run(tenant.id, tenant.slug, tenant.name, tenant.status, tenant.createdAt);
  }

  get(id: string): Tenant | undefined {
    const row = this.handle.prepare<[string], TenantRow>("SELECT id, slug, name, status, created_at FROM tenants WHERE id = ?").get(id);
    return row ? toTenant(row) : undefined;
  }

  list(): Tenant[] {
    return this.handle.prepare<[], TenantRow>("SELECT id, slug, name, status, created_at FROM tenants ORDER BY created_at, id").all().map(toTenant);
  }
}
