/**
 * Read-only after the license's grace period (docs/licensing.md): every change is refused with
 * 402 `license-read-only`, except what must always work. Reads are never touched, so reading,
 * exports (GDPR, audit) and verification go on; backups are taken by the CLI and the scheduler,
 * outside HTTP, and are never refused.
 *
 * Always allowed, whatever the license:
 * - installing a license (the way out), and signing in, refreshing, signing out, changing or
 *   resetting a password (a locked-out person is a security problem, not a new seat);
 * - reducing or securing access: ending sessions, revoking tokens, changing or removing an
 *   existing account (enabling one still needs a free seat: src/auth/accounts.ts), making an
 *   existing person a tenant's admin (src/auth/tenant-admins.ts: a locked-out tenant could not
 *   even export its data otherwise; a new account still needs a seat), suspending a tenant,
 *   rotating keys, rotating or deleting a stored credential, signing audit checkpoints;
 * - legal duties: GDPR erasure of a person, a tenant or content (node, project) and archiving,
 *   its first step; marking a notification read.
 * Refused: creating anything (tenants, users, agents, tokens, projects, nodes, edges, members,
 * secrets) and changing content.
 */
import type { MiddlewareHandler } from "hono";
import type { LicenseService } from "../../license/license.js";
import type { AppEnv } from "../deps.js";

/** "METHOD /hono/path" of every change that works whatever the license's state. */
export const ALWAYS_ALLOWED_CHANGES: readonly string[] = [
  "PUT /api/license",
  "POST /api/setup",
  "POST /api/auth/login",
  "POST /api/auth/refresh",
  "POST /api/auth/logout",
  "POST /api/auth/password-reset",
  "POST /api/me/password",
  "POST /api/users/:userId/password-reset",
  "DELETE /api/sessions/:sessionId",
  "DELETE /api/tokens/:tokenId",
  "DELETE /api/users/:userId/tokens/:tokenId",
  "PATCH /api/users/:userId",
  "DELETE /api/users/:userId",
  "POST /api/users/:userId/erase",
  "DELETE /api/nodes/:nodeId",
  "POST /api/nodes/:nodeId/erase",
  "DELETE /api/projects/:projectId",
  "POST /api/projects/:projectId/erase",
  "PATCH /api/tenants/:tenantId",
  "POST /api/tenants/:tenantId/admins",
  "POST /api/tenants/:tenantId/erase",
  "POST /api/tenants/:tenantId/keys/rotate",
  "POST /api/keys/rotate",
  "PUT /api/secrets/:name",
  "DELETE /api/secrets/:name",
  "POST /api/audit/checkpoints",
  "POST /api/notifications/:notificationId/read",
  // MCP carries reads and changes alike: its tools that change anything ask the license themselves (src/server/mcp/tools.ts).
  "POST /mcp",
];

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function matcher(entry: string): { method: string; path: RegExp } {
  const [method = "", path = ""] = entry.split(" ");
  const pattern = path
    .split("/")
    .map((segment) => (segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return { method, path: new RegExp(`^${pattern}/?$`) };
}

const MATCHERS = ALWAYS_ALLOWED_CHANGES.map(matcher);

/** Whether a request (method and concrete path) or a route (method and Hono pattern) works while read-only. */
export function allowedWhileReadOnly(method: string, path: string): boolean {
  const upper = method.toUpperCase();
  if (READ_METHODS.has(upper)) return true;
  return MATCHERS.some((m) => m.method === upper && m.path.test(path));
}

export function licenseGuard(license: Pick<LicenseService, "assertWritable">): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!allowedWhileReadOnly(c.req.method, c.req.path)) license.assertWritable();
    await next();
  };
}
