/**
 * The one way a command names a tenant: its id or its slug (slugs are stored in the clear; the
 * display name is sealed with the tenant's key and so cannot be looked up).
 */
import type { Database } from "../db/db.js";
import type { Tenant } from "../db/repositories/tenants.js";
import { CliError } from "./output.js";

export function findTenant(db: Database, idOrSlug: string): Tenant | undefined {
  return db.tenants.get(idOrSlug) ?? db.tenants.getBySlug(idOrSlug);
}

/**
 * The tenant, or the command's one line naming what was given. `customer`: the platform's own tenant is refused as
 * unknown.
 */
export function resolveTenant(db: Database, idOrSlug: string, kind: "any" | "customer" = "any"): Tenant {
  const tenant = findTenant(db, idOrSlug);
  if (tenant === undefined || (kind === "customer" && tenant.kind !== "customer"))
    throw new CliError(`no tenant "${idOrSlug}": expected a tenant id or slug`);
  return tenant;
}
