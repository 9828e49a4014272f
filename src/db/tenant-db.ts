/**
 * One tenant's view of the database. Every statement here binds this handle's tenant id;
 * test/unit/db/tenancy.test.ts reads every SQL statement in src/ and fails when one on a
 * tenant-owned table lacks the tenant_id condition.
 */
import type BetterSqlite3 from "better-sqlite3";
import { TenantRepository, type Tenant } from "./tenants.js";

export interface TenantTx {
  readonly tenantId: string;
}

export class TenantDb {
  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
    private readonly transact: <T>(fn: () => T) => T,
  ) {}

  /** This tenant's own record. */
  tenant(): Tenant | undefined {
    return new TenantRepository(this.handle).get(this.tenantId);
  }

  /** Versions of this tenant's data keys (no key material). */
  keyVersions(): { version: number; status: string; masterLabel: string }[] {
    return this.handle
      .prepare<[string], { version: number; status: string; master_label: string }>(
        "SELECT version, status, master_label FROM tenant_keys WHERE tenant_id = ? ORDER BY version",
      )
      .all(this.tenantId)
      .map((r) => ({ version: r.version, status: r.status, masterLabel: r.master_label }));
  }

  /** The single write path for this tenant's changes. */
  async write<T>(fn: (tx: TenantTx) => T): Promise<T> {
    return this.transact(() => fn({ tenantId: this.tenantId }));
  }
}
