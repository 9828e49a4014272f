/**
 * A tenant's own settings, kept by its admins (GET|PUT /api/tenant/settings). Today one:
 * `readAudit`, which reads leave an audit event (src/audit/read-audit.ts). A change is recorded as
 * tenant.updated (security) in the tenant's log by updateTenant, like the platform root's changes.
 */
import type { Tenant } from "../db/repositories/tenants.js";
import { tenantById, updateTenant, type AccountDeps } from "./accounts.js";
import type { Principal } from "./principal.js";

export interface TenantSettings {
  readonly readAudit: Tenant["readAudit"];
}

export function tenantSettings(deps: AccountDeps, principal: Principal): TenantSettings {
  return { readAudit: tenantById(deps, principal.tenantId).readAudit };
}

export async function updateTenantSettings(
  deps: AccountDeps,
  principal: Principal,
  changes: Partial<TenantSettings>,
): Promise<TenantSettings> {
  await updateTenant(deps, principal, principal.tenantId, changes);
  return tenantSettings(deps, principal);
}
