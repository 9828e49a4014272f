/**
 * Turns a bearer credential into a Principal, checking everything at every request: the JWT (or
 * personal token), then the session or token row, the user and the tenant as they are NOW, so
 * logout, revocation, disabling a user, a role change or suspending a tenant take effect on the
 * next request. Effective scopes are those the credential carries AND the user's role grants
 * today. This is the only place that mints a TenantScope.
 *
 * "As they are now" is served from memory when nothing changed since they were read: what a
 * credential was found to stand for is kept in a PrincipalCache whose entries the database drops
 * the moment a row they came from changes (principal-cache.ts, src/db/row-watch.ts). The JWT is
 * verified and the expiry compared with the clock at every request all the same.
 */
import type { Database } from "../db/db.js";
import { mintTenantScope, type TenantScope } from "../db/tenant-scope.js";
import type { TenantDb } from "../db/tenant-db.js";
import type { Tenant } from "../db/repositories/tenants.js";
import type { UserRecord } from "../db/repositories/users.js";
import { InvalidTokenError, type AccessTokens } from "./jwt.js";
import { findUsableToken, isWellFormedToken } from "./personal-tokens.js";
import { secretHash } from "./opaque-secrets.js";
import { PrincipalCache, rowTag } from "./principal-cache.js";
import type { Principal } from "./principal.js";
import { isScope, PROJECT_SCOPES, scopesFor, type Scope } from "../vocabulary/roles.js";

const LAST_USED_RESOLUTION_MS = 60_000;
/**
 * Live credentials remembered, of each kind (sessions, personal tokens). An entry takes about
 * 2.5 KB of heap (measured with 10,000 sessions), so both kinds full hold about 10 MB; a
 * credential beyond them is looked up as without memory.
 */
export const PRINCIPAL_CACHE_ENTRIES = 2_000;

/** The account facts a principal is made of: the user and tenant as read, nothing secret. */
interface Account {
  readonly tenant: Pick<Tenant, "id" | "kind">;
  readonly user: Pick<UserRecord, "id" | "kind" | "role" | "auditor">;
}

/** What a credential was found to stand for, as read from its rows (never a refusal). */
interface Found {
  /** The session's or token's end: compared with the clock at every request, never kept as a verdict. */
  readonly expiresAt: number;
  readonly account: Account;
  /** The scopes the credential carried when read, and the principal they make. */
  readonly granted: string;
  readonly principal: Principal;
}

/** A personal token's: also its last recorded use (noteUse). */
interface FoundToken extends Found {
  readonly tokenId: string;
  readonly lastUsedAt: string | null;
}

export interface AuthenticatorOptions {
  /** How many credentials are remembered; 0 looks every request up (the benchmark's baseline). */
  readonly cacheEntries?: number;
}

/** The scope of the authentication step itself, once a verified credential has named its tenant. */
function credentialScope(tenantId: string): TenantScope {
  return mintTenantScope(tenantId, { type: "system", id: "authentication" });
}

/** The tenant and user as stored now, if both are active; only what a principal is made of is kept. */
function liveAccount(door: TenantDb, userId: string): Account {
  const tenant = door.tenant.get();
  const user = door.users.get(userId);
  if (!tenant || tenant.status !== "active" || !user || user.status !== "active")
    throw new InvalidTokenError("account unavailable");
  return {
    tenant: { id: tenant.id, kind: tenant.kind },
    user: { id: user.id, kind: user.kind, role: user.role, auditor: user.auditor },
  };
}

export class Authenticator {
  /** Sessions and personal tokens apart: a session key can never name a token entry, nor the reverse. */
  private readonly sessions: PrincipalCache<Found>;
  private readonly tokens: PrincipalCache<FoundToken>;

  constructor(
    private readonly db: Database,
    private readonly accessTokens: AccessTokens,
    private readonly now: () => Date = () => new Date(),
    options: AuthenticatorOptions = {},
  ) {
    const entries = options.cacheEntries ?? PRINCIPAL_CACHE_ENTRIES;
    this.sessions = new PrincipalCache(entries);
    this.tokens = new PrincipalCache(entries);
    db.watchedRows.subscribe((change) => {
      this.sessions.forget(change);
      this.tokens.forget(change);
    });
  }

  /** Throws InvalidTokenError for any credential that does not open the door, without saying why. */
  async authenticate(bearer: string): Promise<Principal> {
    return bearer.startsWith("vct_") ? this.fromPersonalToken(bearer) : this.fromAccessToken(bearer);
  }

  private async fromAccessToken(token: string): Promise<Principal> {
    const claims = await this.accessTokens.verify(token);
    const key = `session ${claims.tid} ${claims.sid}`;
    const granted = claims.scopes.join(" ");
    // From the look at the cache to storing what was read nothing awaits: no commit falls in between.
    this.syncMemory();
    const found = this.sessions.get(key) ?? this.lookUpSession(key, claims.tid, claims.sid, claims.scopes);
    if (found.account.user.id !== claims.sub || found.expiresAt <= this.now().getTime())
      throw new InvalidTokenError("session ended");
    // Another access token of the same session may carry other scopes (issued before a role change).
    if (found.granted === granted) return found.principal;
    return principal(found.account, claims.scopes, found.principal.credential, null);
  }

  /** The session row, its user and tenant as stored now; remembered when they open the door. */
  private lookUpSession(key: string, tenantId: string, sessionId: string, scopes: readonly string[]): Found {
    // The verified signature establishes the tenant: from here on, its door.
    const door = this.db.forTenant(credentialScope(tenantId));
    const session = door.sessions.get(sessionId);
    if (!session || session.revokedAt !== null) throw new InvalidTokenError("session ended");
    const account = liveAccount(door, session.userId);
    const found: Found = {
      expiresAt: Date.parse(session.expiresAt),
      account,
      granted: scopes.join(" "),
      principal: principal(account, scopes, { kind: "session", sessionId: session.id }, null),
    };
    this.remember(this.sessions, key, found, rowTag("sessions", session.id));
    return found;
  }

  private async fromPersonalToken(token: string): Promise<Principal> {
    if (!isWellFormedToken(token)) throw new InvalidTokenError("unknown token");
    // Keyed by the token's hash, as it is stored: memory holds no presented secret.
    const key = `token ${Buffer.from(secretHash(token)).toString("hex")}`;
    this.syncMemory();
    const found = this.tokens.get(key) ?? this.lookUpToken(key, token);
    const now = this.now();
    if (found.expiresAt <= now.getTime()) throw new InvalidTokenError("unknown token");
    await this.noteUse(found, now);
    return found.principal;
  }

  /** The token row, its user and tenant as stored now; remembered when they open the door. */
  private lookUpToken(key: string, token: string): FoundToken {
    const record = findUsableToken(this.db.credentials, token, this.now());
    if (!record) throw new InvalidTokenError("unknown token");
    // The token's hash established the tenant: from here on, its door.
    const account = liveAccount(this.db.forTenant(credentialScope(record.tenantId)), record.userId);
    const credential = { kind: "access-token", tokenId: record.id } as const;
    const found: FoundToken = {
      expiresAt: Date.parse(record.expiresAt),
      account,
      granted: record.scopes.join(" "),
      principal: principal(account, record.scopes, credential, record.projectId),
      tokenId: record.id,
      lastUsedAt: record.lastUsedAt,
    };
    this.remember(this.tokens, key, found, rowTag("personal_access_tokens", record.id));
    return found;
  }

  /**
   * Looks whether another process committed since the last look, so what is kept in memory (this
   * cache, each tenant's read-audit level) forgets it before this request is served.
   */
  private syncMemory(): void {
    this.db.watchedRows.sync();
  }

  /** Keeps what was read until its credential's row, its user's or its tenant's changes; only committed rows. */
  private remember<F extends Found>(cache: PrincipalCache<F>, key: string, found: F, credentialRow: string): void {
    if (!this.db.watchedRows.readsCommitted) return;
    const { user, tenant } = found.account;
    cache.set(key, found, [credentialRow, rowTag("users", user.id), rowTag("tenants", tenant.id)]);
  }

  /**
   * Records last use for the owner's token list, at most once a minute per token: no write per
   * request. The write changes the token's row, so its entry is read again next time.
   */
  private async noteUse(found: FoundToken, now: Date): Promise<void> {
    if (found.lastUsedAt !== null && now.getTime() - Date.parse(found.lastUsedAt) < LAST_USED_RESOLUTION_MS) return;
    const door = this.db.forTenant(credentialScope(found.account.tenant.id));
    await door.bookkeep("credential-use", (tx) => tx.personalTokens.touch(found.tokenId, now.toISOString()));
  }
}

function principal(
  { tenant, user }: Account,
  granted: readonly string[],
  credential: Principal["credential"],
  projectId: string | null,
): Principal {
  // An agent never holds the human-only scopes (release:signoff), whatever its stored token says.
  const held = scopesFor(user.role, user.auditor, user.kind);
  // A project-restricted credential never reaches beyond its project, whatever it was granted.
  const allowed = (s: Scope): boolean => held.has(s) && (projectId === null || PROJECT_SCOPES.has(s));
  const scopes = new Set<Scope>(granted.filter((s): s is Scope => isScope(s) && allowed(s)));
  return Object.freeze({
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
  });
}
