/**
 * A user's notifications. They are made only by the audit trail (an event with `notify`), in the
 * transaction that writes the event, so each names its audit provenance; here they are read and
 * marked read by their owner.
 */
import type { Principal } from "../auth/principal.js";
import type { Database } from "../db/db.js";
import { DomainError } from "../errors.js";

export interface NotificationView {
  readonly id: string;
  readonly message: string;
  readonly triggeredByAuditVid: string;
  readonly createdAt: string;
  readonly readAt: string | null;
}

export function ownNotifications(db: Database, principal: Principal, unreadOnly: boolean, limit: number): NotificationView[] {
  return db.notifications.forUser(principal.tenantId, principal.userId, unreadOnly, limit).map((n) => ({ id: n.id, message: n.message, triggeredByAuditVid: n.triggeredByAuditVid, createdAt: n.createdAt, readAt: n.readAt }));
}

export async function markRead(db: Database, principal: Principal, notificationId: string): Promise<void> {
  const found = await db.write((tx) => tx.notifications.markRead(principal.tenantId, principal.userId, notificationId, tx.now));
  if (!found) throw new DomainError("not-found", "no such notification");
}
