/**
 * The proof that a request was authenticated for one tenant.
 *
 * A TenantDb can only be had for a TenantScope, and a TenantScope can only be minted by the
 * authentication layer (src/auth); a test fails if anything else calls `mintTenantScope`.
 * The brand makes a hand-built object literal a type error.
 */
import type { Actor } from "../vocabulary/events.js";

declare const tenantScopeBrand: unique symbol;

export interface TenantScope {
  readonly tenantId: string;
  /** Who acts; a name is never carried here (audit reads look it up from the user record: src/auth/actor-names.ts). */
  readonly actor: Actor;
  readonly [tenantScopeBrand]: true;
}

/** For src/auth only: call after the credential was verified and bound to this tenant. */
export function mintTenantScope(tenantId: string, actor: Actor): TenantScope {
  if (tenantId === "" || tenantId.startsWith("_")) throw new Error("invalid tenant id for a tenant scope");
  return Object.freeze({ tenantId, actor }) as TenantScope;
}
