/**
 * Roles map to explicit scopes: the one table of who may do what. Routes declare the scope
 * they need with requireScope(); nothing else grants access. Scopes are never inherited beyond
 * this table (a tenant admin has no platform scope; the platform root has no graph scope, so it
 * cannot read tenant content through any route).
 */

export const SCOPES = [
  "self", // one's own profile, sessions and tokens
  "platform:admin", // tenants, installation
  "tenant:admin", // the tenant's settings
  "secrets:manage", // the tenant's stored credentials: create, rotate, delete; never read back
  "users:manage", // the tenant's users
  "graph:read",
  "graph:write",
  "audit:read",
  "audit:security", // payloads of security-sensitive audit events (the auditor capability)
  "keys:manage",
  "license:manage",
  "ai:invoke",
  "release:signoff",
] as const;

export type Scope = (typeof SCOPES)[number];

/** The only scopes a project-restricted token can carry: nothing that reaches beyond the project. */
export const PROJECT_SCOPES: ReadonlySet<Scope> = new Set<Scope>([
  "self",
  "graph:read",
  "graph:write",
  "ai:invoke",
  "release:signoff",
]);

export const ROLES = ["platform_root", "tenant_admin", "member", "viewer"] as const;
export type Role = (typeof ROLES)[number];

/** Roles a tenant admin may give; the platform root exists only in the platform tenant. */
export const TENANT_ROLES = ["tenant_admin", "member", "viewer"] as const satisfies readonly Role[];
export type TenantRole = (typeof TENANT_ROLES)[number];

const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  platform_root: ["self", "platform:admin", "keys:manage", "license:manage", "audit:read"],
  tenant_admin: [
    "self",
    "tenant:admin",
    "secrets:manage",
    "users:manage",
    "graph:read",
    "graph:write",
    "audit:read",
    "ai:invoke",
    "release:signoff",
  ],
  member: ["self", "graph:read", "graph:write", "ai:invoke", "release:signoff"],
  viewer: ["self", "graph:read"],
};

const AUDITOR_SCOPES: readonly Scope[] = ["audit:read", "audit:security"];

/**
 * Scopes no agent holds, whatever its role grants: a critical sign-off is a person's (issue 16,
 * docs/signing.md). Authentication drops them from an agent's credential whatever it carries.
 */
export const HUMAN_ONLY_SCOPES: ReadonlySet<Scope> = new Set<Scope>(["release:signoff"]);

/** The scopes a user holds now: its role's, plus the auditor capability's; an agent's without the human-only ones. */
export function scopesFor(role: Role, auditor: boolean, kind: "human" | "agent"): ReadonlySet<Scope> {
  const scopes = [...ROLE_SCOPES[role], ...(auditor ? AUDITOR_SCOPES : [])];
  return new Set<Scope>(kind === "human" ? scopes : scopes.filter((s) => !HUMAN_ONLY_SCOPES.has(s)));
}

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}
