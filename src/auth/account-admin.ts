/**
 * Account administration as the HTTP side calls it: setup, tenants and their admins, people in a
 * tenant, erasure, a tenant's own settings, the signed-in user's record. Bound here to their
 * dependencies (the platform database among them), so the routes are given these functions and
 * never the database (the one door: test/unit/server/served-parts.test.ts). The CLI and the tests
 * call the same functions.
 */
import type { Bound } from "../bound.js";
import {
  completeSetup,
  createTenant,
  createUser,
  currentUser,
  deleteUser,
  getTenant,
  listTenants,
  listUsers,
  updateTenant,
  updateUser,
  userById,
  type AccountDeps,
} from "./accounts.js";
import { eraseTenant, eraseUser } from "./erasure.js";
import { assignTenantAdmin } from "./tenant-admins.js";
import { tenantSettings, updateTenantSettings } from "./tenant-settings.js";

export interface AccountAdmin {
  readonly completeSetup: Bound<typeof completeSetup>;
  readonly createTenant: Bound<typeof createTenant>;
  readonly listTenants: Bound<typeof listTenants>;
  readonly getTenant: Bound<typeof getTenant>;
  readonly updateTenant: Bound<typeof updateTenant>;
  readonly assignTenantAdmin: Bound<typeof assignTenantAdmin>;
  readonly eraseTenant: Bound<typeof eraseTenant>;
  readonly tenantSettings: Bound<typeof tenantSettings>;
  readonly updateTenantSettings: Bound<typeof updateTenantSettings>;
  readonly createUser: Bound<typeof createUser>;
  readonly listUsers: Bound<typeof listUsers>;
  readonly userById: Bound<typeof userById>;
  readonly updateUser: Bound<typeof updateUser>;
  readonly deleteUser: Bound<typeof deleteUser>;
  readonly eraseUser: Bound<typeof eraseUser>;
  readonly currentUser: Bound<typeof currentUser>;
}

export function accountAdmin(deps: AccountDeps): AccountAdmin {
  return {
    completeSetup: (...args) => completeSetup(deps, ...args),
    createTenant: (...args) => createTenant(deps, ...args),
    listTenants: (...args) => listTenants(deps, ...args),
    getTenant: (...args) => getTenant(deps, ...args),
    updateTenant: (...args) => updateTenant(deps, ...args),
    assignTenantAdmin: (...args) => assignTenantAdmin(deps, ...args),
    eraseTenant: (...args) => eraseTenant(deps, ...args),
    tenantSettings: (...args) => tenantSettings(deps, ...args),
    updateTenantSettings: (...args) => updateTenantSettings(deps, ...args),
    createUser: (...args) => createUser(deps, ...args),
    listUsers: (...args) => listUsers(deps, ...args),
    userById: (...args) => userById(deps, ...args),
    updateUser: (...args) => updateUser(deps, ...args),
    deleteUser: (...args) => deleteUser(deps, ...args),
    eraseUser: (...args) => eraseUser(deps, ...args),
    currentUser: (...args) => currentUser(deps, ...args),
  };
}
