/**
 * One tenant's door into the database, built from the registry of tenant repositories
 * (tenant-repositories.ts): `tenantDb.sessions.get(id)`, `tenantDb.nodes.list(projectId, filter)`
 * read with the tenant id already bound, and inside `write()` the transaction holds the whole
 * repositories: `tx.nodes.insert(node, terms)`. Nothing here names a table or a method: a
 * repository added to the registry appears on both sides by itself.
 */
import type BetterSqlite3 from "better-sqlite3";
import { NotificationRepository } from "./repositories/notifications.js";
import { PersonalTokenRepository } from "./repositories/personal-tokens.js";
import { SessionRepository } from "./repositories/sessions.js";
import { only, type TenantReads, type TenantRepositories } from "./tenant-repositories.js";
import type { TenantScope } from "./tenant-scope.js";
import type { TransactionBase } from "./write-path.js";

/**
 * A tenant's writes that are not actions, each with the only methods it may call: marks of use,
 * never content, and no audit event (the action they serve has its own: a login, a refresh).
 */
export interface TenantBookkeeping {
  /** A session's or token's last use, and the refresh token rotated on each use (auth/sessions.ts, authenticate.ts). */
  readonly "credential-use": {
    readonly sessions: Pick<SessionRepository, "touch" | "spendRefreshToken" | "insertRefreshToken">;
    readonly personalTokens: Pick<PersonalTokenRepository, "touch">;
  };
  /** A user marking their own notification read (notify/notifications.ts). */
  readonly "notification-read": { readonly notifications: Pick<NotificationRepository, "markRead"> };
}

export function tenantBookkeeping(handle: BetterSqlite3.Database, tenantId: string): TenantBookkeeping {
  return {
    "credential-use": {
      sessions: only(new SessionRepository(handle, tenantId), ["touch", "spendRefreshToken", "insertRefreshToken"]),
      personalTokens: only(new PersonalTokenRepository(handle, tenantId), ["touch"]),
    },
    "notification-read": { notifications: only(new NotificationRepository(handle, tenantId), ["markRead"]) },
  };
}

/** The way into a tenant's data: only with a scope minted by authentication (Database implements it). */
export interface TenantDoor {
  forTenant(scope: TenantScope): TenantDb;
}

/** Changes to one tenant's data, inside one transaction. */
export type TenantTx = TenantRepositories & TransactionBase & { readonly tenantId: string };

/** One tenant's data: its reads, and the write path for its changes. */
export type TenantDb = TenantReads & {
  readonly tenantId: string;
  /**
   * Runs fn, whose reads then share one read transaction: one snapshot, and the WAL read lock
   * taken and released once instead of around every statement. fn must be synchronous (a
   * transaction never stays open across an await; a Promise returned is refused with a
   * TypeError). Nothing read inside is kept in memory by the caches that fill only from
   * committed reads (row-watch.ts readsCommitted): use it for a request's own reads.
   */
  read<T>(fn: () => T): T;
  /** The single write path for this tenant's changes (contract: src/db/write-path.ts). */
  write<T>(fn: (tx: TenantTx) => T): Promise<T>;
  /**
   * The write path of a hard delete: once it commits, the WAL is folded into the database file
   * and truncated, so no page image of the deleted rows stays in the WAL (secure_delete has
   * already zeroed them in the pages; src/db/sqlite.ts).
   */
  erase<T>(fn: (tx: TenantTx) => T): Promise<T>;
  /** A write that is not an action: one of the named kinds, with only its methods (TenantBookkeeping). */
  bookkeep<K extends keyof TenantBookkeeping, T>(
    kind: K,
    fn: (tx: TenantBookkeeping[K] & { readonly now: string }) => T,
  ): Promise<T>;
};
