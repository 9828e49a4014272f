/**
 * Turns a bearer credential into a Principal, checking everything at every request: the JWT (or
 * personal token), then the session or token row, the user and the tenant as they are NOW, so
 * logout, revocation, disabling a user, a role change or suspending a tenant take effect on the
 * next request. Effective scopes are those the credential carries AND the user's role grants
 * today. This is the only place that mints a TenantScope.
 */
import type { Database } from "../db/db.js";
import { mintTenantScope, type TenantScope } from "../db/tenant-scope.js";
import type { TenantDb } from "../db/tenant-db.js";
import type { PersonalTokenRecord } from "../db/repositories/personal-tokens.js";
import type { Tenant } from "../db/repositories/tenants.js";
import type { UserRecord } from "../db/repositories/users.js";
import { InvalidTokenError, type AccessTokens } from "./jwt.js";
import { findUsableToken } from "./personal-tokens.js";
import type { Principal } from "./principal.js";
import { isScope, PROJECT_SCOPES, scopesFor, type Scope } from "../vocabulary/roles.js";

const LAST_USED_RESOLUTION_MS = 60_000;

/** The scope of the authentication step itself, once a verified credential has named its tenant. */
function credentialScope(tenantId: string): TenantScope {
  return mintTenantScope(tenantId, { type: "system", id: "authentication" });
}

/** Records last use for the owner's token list, at most once a minute per token: no write per request. */
async function noteUse(account: TenantDb, record: PersonalTokenRecord, now: Date): Promise<void> {
  if (record.lastUsedAt !== null && now.getTime() - Date.parse(record.lastUsedAt) < LAST_USED_RESOLUTION_MS) return;
  await account.bookkeep("credential-use", (tx) => tx.personalTokens.touch(record.id, now.toISOString()));
}

function liveAccount(account: TenantDb, userId: string): { tenant: Tenant; user: UserRecord } {
  const tenant = account.tenant.get();
  const user = account.users.get(userId);
  if (!tenant || tenant.status !== "active" || !user || user.status !== "active")
    throw new InvalidTokenError("account unavailable");
  return { tenant, user };
}

export class Authenticator {
  constructor(
    private readonly db: Database,
    private readonly accessTokens: AccessTokens,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Throws InvalidTokenError for any credential that does not open the door, without saying why. */
  async authenticate(bearer: string): Promise<Principal> {
    return bearer.startsWith("vct_") ? this.fromPersonalToken(bearer) : this.fromAccessToken(bearer);
  }

  private async fromAccessToken(token: string): Promise<Principal> {
    const claims = await this.accessTokens.verify(token);
    // The verified signature establishes the tenant: from here on, its door.
    const account = this.db.forTenant(credentialScope(claims.tid));
    const session = account.sessions.get(claims.sid);
    if (
      !session ||
      session.userId !== claims.sub ||
      session.revokedAt !== null ||
      Date.parse(session.expiresAt) <= this.now().getTime()
    ) {
      throw new InvalidTokenError("session ended");
    }
    const { tenant, user } = liveAccount(account, claims.sub);
    return this.principal(tenant, user, claims.scopes, { kind: "session", sessionId: session.id }, null);
  }

  private async fromPersonalToken(token: string): Promise<Principal> {
    const record = findUsableToken(this.db.credentials, token, this.now());
    if (!record) throw new InvalidTokenError("unknown token");
    // The token's hash established the tenant: from here on, its door.
    const account = this.db.forTenant(credentialScope(record.tenantId));
    const { tenant, user } = liveAccount(account, record.userId);
    await noteUse(account, record, this.now());
    return this.principal(tenant, user, record.scopes, { kind: "access-token", tokenId: record.id }, record.projectId);
  }

  private principal(
    tenant: Tenant,
    user: UserRecord,
    granted: readonly string[],
    credential: Principal["credential"],
    projectId: string | null,
  ): Principal {
    const held = scopesFor(user.role, user.auditor);
    // A project-restricted credential never reaches beyond its project, whatever it was granted.
    const allowed = (s: Scope): boolean => held.has(s) && (projectId === null || PROJECT_SCOPES.has(s));
    const scopes = new Set<Scope>(granted.filter((s): s is Scope => isScope(s) && allowed(s)));
    return {
      userId: user.id,
      actorKind: user.kind,
      tenantId: tenant.id,
      tenantKind: tenant.kind,
      role: user.role,
      scopes,
      credential,
      projectId,
      tenantScope: tenant.kind === "customer" ? mintTenantScope(tenant.id, { type: user.kind, id: user.id }) : null,
      accountScope: mintTenantScope(tenant.id, { type: user.kind, id: user.id }),
    };
  }
}
