/**
 * Who is making a request, established by authentication and nothing else. Routes read it;
 * requireScope checks it; tenant data is reached through `tenantScope`.
 */
import type { ActorKind } from "../vocabulary/events.js";
import type { TenantScope } from "../db/tenant-scope.js";
import type { Role, Scope } from "../vocabulary/roles.js";

export interface Principal {
  readonly userId: string;
  readonly actorKind: ActorKind;
  readonly tenantId: string;
  readonly tenantKind: "platform" | "customer";
  readonly role: Role;
  readonly scopes: ReadonlySet<Scope>;
  /** How the request authenticated. */
  readonly credential:
    | { readonly kind: "session"; readonly sessionId: string }
    | { readonly kind: "access-token"; readonly tokenId: string };
  /** A project-restricted access token reaches only this project; null means tenant-wide. */
  readonly projectId: string | null;
  /** The key to this tenant's data; null for the platform tenant, whose users hold no tenant content. */
  readonly tenantScope: TenantScope | null;
  /**
   * The key to the caller's own account rows (own sessions, tokens, notifications, password), in
   * whatever tenant the account lives: the platform root's too. Domain code reads only the
   * caller's own rows through it.
   */
  readonly accountScope: TenantScope;
}

/** The actor an audit event names for what this principal did (defined with the actor type, below auth). */
export { actorOf } from "../vocabulary/events.js";
