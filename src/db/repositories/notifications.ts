/** Notifications; created only together with the audit row that triggers them (see Database.audit). */
import type BetterSqlite3 from "better-sqlite3";
import { statement } from "../statements.js";

export interface NotificationRecord {
  readonly id: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly triggeredByAuditVid: string;
  readonly message: string;
  readonly createdAt: string;
  readonly readAt: string | null;
}

interface Row {
  id: string;
  tenant_id: string;
  user_id: string;
  triggered_by_audit_vid: string;
  message: string;
  created_at: string;
  read_at: string | null;
}

const COLUMNS = "id, tenant_id, user_id, triggered_by_audit_vid, message, created_at, read_at";

function toRecord(r: Row): NotificationRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    userId: r.user_id,
    triggeredByAuditVid: r.triggered_by_audit_vid,
    message: r.message,
    createdAt: r.created_at,
    readAt: r.read_at,
  };
}

/** One tenant's notifications: the tenant id is bound at construction and in every statement. */
export class NotificationRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["forUser"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  insert(n: Omit<NotificationRecord, "tenantId">): void {
    statement(this.handle, `INSERT INTO notifications (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`).run(
      n.id,
      this.tenantId,
      n.userId,
      n.triggeredByAuditVid,
      n.message,
      n.createdAt,
      n.readAt,
    );
  }

  /** A user's notifications, newest first. */
  forUser(userId: string, unreadOnly: boolean, limit: number): NotificationRecord[] {
    return statement<[string, string, number, number], Row>(
      this.handle,
      `SELECT ${COLUMNS} FROM notifications ` +
        `WHERE tenant_id = ? AND user_id = ? AND (? = 0 OR read_at IS NULL) ` +
        `ORDER BY created_at DESC, id LIMIT ?`,
    )
      .all(this.tenantId, userId, unreadOnly ? 1 : 0, limit)
      .map(toRecord);
  }

  markRead(userId: string, id: string, now: string): boolean {
    return (
      statement(
        this.handle,
        "UPDATE notifications SET read_at = coalesce(read_at, ?) WHERE tenant_id = ? AND user_id = ? AND id = ?",
      ).run(now, this.tenantId, userId, id).changes === 1
    );
  }
}
