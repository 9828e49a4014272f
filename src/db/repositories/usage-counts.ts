/**
 * Counts for license limits and usage snapshots: numbers only, never content. Every statement on
 * a tenant-owned table binds one tenant_id (test/unit/db/tenancy.test.ts); installation totals are
 * the domain's sums over the customer tenants (src/usage/counts.ts).
 */
import type BetterSqlite3 from "better-sqlite3";
import type { Role } from "../../vocabulary/roles.js";
import type { ActorKind } from "../../vocabulary/events.js";
import type { UserStatus } from "./users.js";
import { statement } from "../statements.js";

export interface UserCountRow {
  readonly kind: ActorKind;
  readonly role: Role;
  readonly status: UserStatus;
  readonly auditor: boolean;
  readonly count: number;
}

/** A session's times, for the peak-concurrency estimate; no ids. */
export interface SessionSpan {
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly lastUsedAt: string;
  readonly revokedAt: string | null;
}

/** Installation-wide counts: which customer tenants there are (their own counts: TenantUsageRepository). */
export class UsageCountRepository {
  constructor(private readonly handle: BetterSqlite3.Database) {}

  /** Customer tenants (the platform tenant holds only the platform root) with their access-token lifetime. */
  customerTenants(): { id: string; accessTokenTtlSeconds: number }[] {
    return statement<[], { id: string; access_token_ttl_seconds: number }>(
      this.handle,
      "SELECT id, access_token_ttl_seconds FROM tenants WHERE kind = 'customer' ORDER BY id",
    )
      .all()
      .map((r) => ({ id: r.id, accessTokenTtlSeconds: r.access_token_ttl_seconds }));
  }

  customerTenantCount(): number {
    return (
      statement<[], { n: number }>(this.handle, "SELECT count(*) AS n FROM tenants WHERE kind = 'customer'").get()?.n ??
      0
    );
  }
}

/** One tenant's counts (numbers only): the tenant id is bound at construction and in every statement. */
export class TenantUsageRepository {
  /** All of it is reading. */
  static readonly reads = [
    "activeAccounts",
    "users",
    "activeHumans",
    "activeProjects",
    "liveNodes",
    "livePersonalTokens",
    "sessionSpans",
  ] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  /** Active accounts of a tenant by kind: the seats a license counts. */
  activeAccounts(): { humans: number; agents: number } {
    const rows = statement<[string], { kind: ActorKind; n: number }>(
      this.handle,
      "SELECT kind, count(*) AS n FROM users WHERE tenant_id = ? AND status = 'active' GROUP BY kind",
    ).all(this.tenantId);
    return {
      humans: rows.find((r) => r.kind === "human")?.n ?? 0,
      agents: rows.find((r) => r.kind === "agent")?.n ?? 0,
    };
  }

  users(): UserCountRow[] {
    return statement<[string], { kind: ActorKind; role: Role; status: UserStatus; auditor: number; n: number }>(
      this.handle,
      "SELECT kind, role, status, auditor, count(*) AS n " +
        "FROM users WHERE tenant_id = ? GROUP BY kind, role, status, auditor",
    )
      .all(this.tenantId)
      .map((r) => ({ kind: r.kind, role: r.role, status: r.status, auditor: r.auditor === 1, count: r.n }));
  }

  /**
   * Active people of a tenant in [since, until]: a session of theirs was created or used, or one
   * of their personal access tokens was used, within the window.
   */
  activeHumans(since: string, until: string): number {
    return (
      statement<[string, string, string, string, string, string, string, string], { n: number }>(
        this.handle,
        `SELECT count(*) AS n FROM users u WHERE u.tenant_id = ? AND u.kind = 'human' AND (
             EXISTS (SELECT 1 FROM sessions s
                     WHERE s.tenant_id = ? AND s.user_id = u.id AND s.created_at <= ?
                       AND (s.created_at >= ? OR s.last_used_at >= ?))
             OR EXISTS (SELECT 1 FROM personal_access_tokens p
                        WHERE p.tenant_id = ? AND p.user_id = u.id AND p.last_used_at IS NOT NULL
                          AND p.last_used_at >= ? AND p.last_used_at <= ?))`,
      ).get(this.tenantId, this.tenantId, until, since, since, this.tenantId, since, until)?.n ?? 0
    );
  }

  /** Projects that are not archived. */
  activeProjects(): number {
    return (
      statement<[string], { n: number }>(
        this.handle,
        "SELECT count(*) AS n FROM projects WHERE tenant_id = ? AND status = 'active'",
      ).get(this.tenantId)?.n ?? 0
    );
  }

  /** Nodes that are not archived (deleting a node archives it). */
  liveNodes(): number {
    return (
      statement<[string], { n: number }>(
        this.handle,
        "SELECT count(*) AS n FROM nodes WHERE tenant_id = ? AND archived_at IS NULL",
      ).get(this.tenantId)?.n ?? 0
    );
  }

  /** Personal access tokens that are neither revoked nor expired at `at`. */
  livePersonalTokens(at: string): number {
    return (
      statement<[string, string], { n: number }>(
        this.handle,
        "SELECT count(*) AS n " +
          "FROM personal_access_tokens " +
          "WHERE tenant_id = ? AND revoked_at IS NULL AND expires_at > ?",
      ).get(this.tenantId, at)?.n ?? 0
    );
  }

  /** Sessions of a tenant that may have been live at some moment in [from, to). */
  sessionSpans(from: string, to: string): SessionSpan[] {
    return statement<
      [string, string, string, string],
      { created_at: string; expires_at: string; last_used_at: string; revoked_at: string | null }
    >(
      this.handle,
      "SELECT created_at, expires_at, last_used_at, revoked_at " +
        "FROM sessions WHERE tenant_id = ? AND created_at < ? AND expires_at > ? AND (revoked_at IS NULL " +
        "OR revoked_at > ?)",
    )
      .all(this.tenantId, to, from, from)
      .map((r) => ({
        createdAt: r.created_at,
        expiresAt: r.expires_at,
        lastUsedAt: r.last_used_at,
        revokedAt: r.revoked_at,
      }));
  }
}
