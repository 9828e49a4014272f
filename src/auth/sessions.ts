/**
 * Sign-in, refresh and sign-out.
 *
 * A login creates a session (the refresh-token family) and returns a short-lived access token
 * (JWT bound to the session) plus an opaque refresh token. Each refresh spends the presented
 * refresh token and issues a new pair; presenting a spent one is treated as theft: the whole
 * family is revoked and a security event raised (ASVS 10.4.5, 10.4.8).
 */
import { randomUUID } from "node:crypto";
import type { CryptoService } from "../crypto/index.js";
import type { Database } from "../db/db.js";
import type { SessionRecord } from "../db/repositories/sessions.js";
import type { TenantDb } from "../db/tenant-db.js";
import { mintTenantScope } from "../db/tenant-scope.js";
import type { Tenant } from "../db/repositories/tenants.js";
import type { UserRecord } from "../db/repositories/users.js";
import { DomainError } from "../errors.js";
import type { EventSink } from "../audit/events.js";
import type { AccessTokens } from "./jwt.js";
import type { PasswordHasher } from "./passwords.js";
import { actorOf, type Principal } from "./principal.js";
import { emailLookup } from "./profiles.js";
import { scopesFor } from "../vocabulary/roles.js";
import { newOpaqueSecret, secretHash } from "./opaque-secrets.js";
import { accountRef, throttleKeys, type LoginThrottle } from "./throttle.js";

export interface SessionPolicy {
  /** Absolute lifetime of a session: after this, log in again. */
  readonly sessionSeconds: number;
  /** A refresh token unused for this long expires. */
  readonly refreshIdleSeconds: number;
}

export const DEFAULT_SESSION_POLICY: SessionPolicy = { sessionSeconds: 30 * 86_400, refreshIdleSeconds: 7 * 86_400 };

export interface TokenPair {
  readonly tokenType: "Bearer";
  readonly accessToken: string;
  readonly expiresAt: string;
  readonly refreshToken: string;
  readonly refreshExpiresAt: string;
  readonly sessionId: string;
}

export interface LoginRequest {
  /** Tenant slug; absent for the platform root. */
  readonly tenant?: string;
  readonly email: string;
  readonly password: string;
  readonly client: string;
  readonly address: string;
}

const INVALID = "invalid credentials";

export interface SessionDeps {
  readonly db: Database;
  readonly crypto: CryptoService;
  readonly passwords: PasswordHasher;
  readonly accessTokens: AccessTokens;
  readonly throttle: LoginThrottle;
  readonly events: EventSink;
  readonly policy: SessionPolicy;
  readonly now: () => Date;
}

export class Sessions {
  constructor(private readonly deps: SessionDeps) {}

  async login(request: LoginRequest): Promise<TokenPair> {
    const { db, crypto, passwords, throttle, events } = this.deps;
    const tenant = request.tenant === undefined ? db.tenants.platformTenant() : db.tenants.getBySlug(request.tenant);
    const tenantRef = tenant?.id ?? `unknown:${request.tenant ?? ""}`;
    const lookup = tenant ? await emailLookup(crypto, tenant.id, request.email) : new Uint8Array(32);
    const keys = throttleKeys(tenantRef, accountRef(lookup), request.address);
    const wait = throttle.retryAfter(keys);
    if (wait > 0) {
      events.emit({
        event: "auth.login_throttled",
        sensitivity: "security",
        severity: "warn",
        tenantId: tenant?.id ?? null,
        actor: { type: "anonymous", id: null },
        payload: { address: request.address, retryAfterSeconds: wait },
      });
      throw new DomainError("throttled", `too many failed attempts; try again in ${wait} seconds`, {
        retryAfterSeconds: wait,
      });
    }
    const user = tenant ? db.credentials.userByEmail(tenant.id, lookup) : undefined;
    const verdict = user?.passwordHash
      ? await passwords.verify(user.passwordHash, request.password)
      : (await passwords.verifyNothing(request.password), { ok: false, rehash: false });
    if (
      !tenant ||
      !user ||
      !verdict.ok ||
      user.status !== "active" ||
      tenant.status !== "active" ||
      user.kind !== "human"
    ) {
      await throttle.failure(keys);
      events.emit({
        event: "auth.login_failed",
        sensitivity: "security",
        severity: "warn",
        tenantId: tenant?.id ?? null,
        actor: { type: "anonymous", id: user?.id ?? null },
        payload: {
          address: request.address,
          reason: !user ? "unknown account" : !verdict.ok ? "wrong password" : "account unavailable",
        },
      });
      throw new DomainError("invalid-credentials", INVALID);
    }
    await throttle.success(keys);
    // The password opened the account: from here on, its tenant's door.
    const account = db.forTenant(mintTenantScope(tenant.id, { type: user.kind, id: user.id }));
    const rehashed = verdict.rehash ? await passwords.hash(request.password) : undefined;
    return this.startSession(account, tenant, user, request.client, request.address, rehashed);
  }

  async refresh(refreshToken: string): Promise<TokenPair> {
    const { db } = this.deps;
    const now = this.deps.now();
    const stored = db.credentials.refreshToken(secretHash(refreshToken));
    if (!stored) throw new DomainError("invalid-credentials", INVALID);
    // The token's hash established the tenant: from here on, its door.
    const account = db.forTenant(mintTenantScope(stored.tenantId, { type: "system", id: "authentication" }));
    const session = account.sessions.get(stored.sessionId);
    if (!session || session.revokedAt !== null || Date.parse(session.expiresAt) <= now.getTime())
      throw new DomainError("invalid-credentials", INVALID);
    // Spending the token is bookkeeping of its use; a replay is an action: the session ends, audited.
    if (await account.bookkeep("credential-use", (tx) => tx.sessions.spendRefreshToken(stored.tokenHash, tx.now)))
      return this.refreshed(account, session, stored.expiresAt, now);
    await account.write((tx) => {
      tx.sessions.revoke(session.id, "refresh token reused", tx.now);
      tx.audit({
        event: "auth.refresh_reused",
        sensitivity: "security",
        severity: "critical",
        tenantId: session.tenantId,
        actor: { type: "human", id: session.userId },
        payload: { sessionId: session.id, revoked: "session" },
        notify: {
          userIds: [session.userId],
          message:
            "A sign-in token of yours was used twice, so that session was ended. If it was not you, change your password.",
        },
      });
    });
    throw new DomainError("invalid-credentials", INVALID);
  }

  private async refreshed(
    account: TenantDb,
    session: SessionRecord,
    refreshExpiresAt: string,
    now: Date,
  ): Promise<TokenPair> {
    if (Date.parse(refreshExpiresAt) <= now.getTime()) throw new DomainError("invalid-credentials", INVALID);
    const tenant = account.tenant.get();
    const user = account.users.get(session.userId);
    if (!tenant || tenant.status !== "active" || !user || user.status !== "active")
      throw new DomainError("invalid-credentials", INVALID);
    return this.issue(account, tenant, user, session);
  }

  async logout(principal: Principal): Promise<void> {
    if (principal.credential.kind !== "session")
      throw new DomainError("rejected", "log out ends a session; revoke an access token with DELETE /api/tokens/:id");
    const sessionId = principal.credential.sessionId;
    await this.deps.db.forTenant(principal.accountScope).write((tx) => {
      tx.sessions.revoke(sessionId, "logout", tx.now);
      tx.audit({
        event: "auth.logout",
        sensitivity: "normal",
        severity: "info",
        tenantId: principal.tenantId,
        actor: actorOf(principal),
        payload: { sessionId },
      });
    });
  }

  private async startSession(
    account: TenantDb,
    tenant: Tenant,
    user: UserRecord,
    client: string,
    address: string,
    rehashed: string | undefined,
  ): Promise<TokenPair> {
    const now = this.deps.now();
    const session: SessionRecord = {
      id: randomUUID(),
      tenantId: tenant.id,
      userId: user.id,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.deps.policy.sessionSeconds * 1000).toISOString(),
      lastUsedAt: now.toISOString(),
      revokedAt: null,
      revokeReason: null,
      client: client.slice(0, 200),
    };
    await account.write((tx) => {
      // A stronger hash of the same password, when its parameters rose: part of signing in.
      if (rehashed !== undefined) tx.users.update(user.id, { passwordHash: rehashed }, tx.now);
      tx.sessions.insert(session);
      tx.audit({
        event: "auth.login_succeeded",
        sensitivity: "security",
        severity: "info",
        tenantId: tenant.id,
        actor: { type: "human", id: user.id },
        payload: { sessionId: session.id, address },
      });
    });
    return this.issue(account, tenant, user, session);
  }

  /** A fresh access token and refresh token for a live session. */
  private async issue(account: TenantDb, tenant: Tenant, user: UserRecord, session: SessionRecord): Promise<TokenPair> {
    const now = this.deps.now();
    const refreshToken = newOpaqueSecret();
    const refreshExpires = new Date(
      Math.min(now.getTime() + this.deps.policy.refreshIdleSeconds * 1000, Date.parse(session.expiresAt)),
    );
    await account.bookkeep("credential-use", (tx) => {
      tx.sessions.insertRefreshToken({
        tokenHash: secretHash(refreshToken),
        sessionId: session.id,
        createdAt: tx.now,
        expiresAt: refreshExpires.toISOString(),
        usedAt: null,
      });
      tx.sessions.touch(session.id, tx.now);
    });
    const lifetime = Math.min(
      tenant.accessTokenTtlSeconds,
      Math.floor((Date.parse(session.expiresAt) - now.getTime()) / 1000),
    );
    const access = await this.deps.accessTokens.sign(
      {
        userId: user.id,
        tenantId: tenant.id,
        sessionId: session.id,
        scopes: [...scopesFor(user.role, user.auditor, user.kind)],
      },
      lifetime,
    );
    return {
      tokenType: "Bearer",
      accessToken: access.token,
      expiresAt: access.expiresAt.toISOString(),
      refreshToken,
      refreshExpiresAt: refreshExpires.toISOString(),
      sessionId: session.id,
    };
  }
}
