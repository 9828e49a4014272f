/**
 * A user's notifications. They are made here from an audit event that names people to tell
 * (`notify`), in the transaction that writes the event, so each names its audit provenance; they
 * are read and marked read by their owner.
 */
import type { Principal } from "../auth/principal.js";
import type { AuditPosition } from "../db/repositories/audit-log.js";
import type { TenantDb, TenantTx } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";
import type { DomainEvent } from "../vocabulary/events.js";
import { randomUUID } from "node:crypto";

export interface NotificationView {
  readonly id: string;
  readonly message: string;
  readonly triggeredByAuditVid: string;
  readonly createdAt: string;
  readonly readAt: string | null;
}

/**
 * The only way a notification is made: for each person the event names, with the vid of the
 * audit row just written (the database calls this after appending a tenant's event; services.ts
 * registers it). The message is the event's: it carries no tenant content.
 */
export function notifyFromEvent(event: DomainEvent, position: AuditPosition, tx: TenantTx | undefined): void {
  if (tx === undefined) return; // the platform log's events name no tenant's users
  for (const userId of event.notify?.userIds ?? []) {
    tx.notifications.insert({
      id: randomUUID(),
      userId,
      triggeredByAuditVid: position.vid,
      message: event.notify?.message ?? "",
      createdAt: position.timestamp,
      readAt: null,
    });
  }
}

/** The caller's own notifications (`account`: the door of the caller's own account, Principal.accountScope). */
export function ownNotifications(
  account: TenantDb,
  principal: Pick<Principal, "userId">,
  unreadOnly: boolean,
  limit: number,
): NotificationView[] {
  return account.notifications.forUser(principal.userId, unreadOnly, limit).map((n) => ({
    id: n.id,
    message: n.message,
    triggeredByAuditVid: n.triggeredByAuditVid,
    createdAt: n.createdAt,
    readAt: n.readAt,
  }));
}

export async function markRead(
  account: TenantDb,
  principal: Pick<Principal, "userId">,
  notificationId: string,
): Promise<void> {
  const found = await account.bookkeep("notification-read", (tx) =>
    tx.notifications.markRead(principal.userId, notificationId, tx.now),
  );
  if (!found) throw new DomainError("not-found", "no such notification");
}
