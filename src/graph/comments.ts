/**
 * Comments on a node: what an agent at Advise may add, and anyone with write access to the
 * project. The body is tenant content, sealed with the tenant's data key and bound to its row,
 * like a node's body; author type and id are kept in the clear. Comments are not edited: a
 * comment is advice, and the audit trail names who gave it.
 */
import { randomUUID } from "node:crypto";
import { authorizeWrite, grantEventFields } from "../auth/autonomy.js";
import { actorOf, type Principal } from "../auth/principal.js";
import type { CommentRecord } from "../db/repositories/comments.js";
import type { TenantDb } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";
import { nodeAccess } from "./nodes.js";
import type { GraphDeps } from "./projects.js";

/** Longer than a chat line, shorter than a node body: a comment, not a document. */
export const COMMENT_MAX_CHARS = 20_000;

export interface CommentView {
  readonly id: string;
  readonly nodeId: string;
  readonly projectId: string;
  readonly body: string;
  readonly author: { readonly type: "human" | "agent"; readonly id: string };
  readonly createdAt: string;
}

function bodyRef(id: string): { table: string; column: string; rowId: string } {
  return { table: "comments", column: "body", rowId: id };
}

function commentView(record: Omit<CommentRecord, "tenantId" | "bodyEnc">, body: string): CommentView {
  return {
    id: record.id,
    nodeId: record.nodeId,
    projectId: record.projectId,
    body,
    author: { type: record.authorType, id: record.authorId },
    createdAt: record.createdAt,
  };
}

export async function addComment(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
  body: string,
): Promise<CommentView> {
  const { node, canWrite } = nodeAccess(tenantDb, principal, nodeId);
  if (!canWrite) throw new DomainError("forbidden", "you may read this project but not change it");
  const governed = grantEventFields(authorizeWrite(tenantDb, principal, node.projectId, "comment"));
  const id = randomUUID();
  const bodyEnc = await deps.crypto.encryptField(tenantDb.tenantId, bodyRef(id), body);
  const written = await tenantDb.write((tx) => {
    const record = {
      id,
      projectId: node.projectId,
      nodeId,
      bodyEnc,
      authorType: principal.actorKind,
      authorId: principal.userId,
      createdAt: tx.now,
    };
    tx.comments.insert(record);
    tx.audit({
      event: "comment.created",
      sensitivity: "normal",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: { commentId: id, nodeId, projectId: node.projectId, ...governed.payload },
      ...(governed.notify ? { notify: governed.notify } : {}),
    });
    return record;
  });
  return commentView(written, body);
}

function encodeCursor(c: CommentRecord): string {
  return Buffer.from(`${c.createdAt}|${c.id}`, "utf8").toString("base64url");
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)))
    throw new DomainError("rejected", "cursor is not one this server issued");
  return { createdAt, id };
}

/** A node's comments, oldest first, keyset-paginated (nextCursor). */
export async function listComments(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
  page: { readonly cursor?: string | undefined; readonly limit: number },
): Promise<{ comments: CommentView[]; nextCursor: string | null }> {
  nodeAccess(tenantDb, principal, nodeId);
  const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
  const records = tenantDb.comments.forNode(nodeId, after, page.limit + 1);
  const kept = records.slice(0, page.limit);
  const last = kept.at(-1);
  return {
    comments: await Promise.all(
      kept.map(async (c) => commentView(c, await deps.crypto.decryptField(c.tenantId, bodyRef(c.id), c.bodyEnc))),
    ),
    nextCursor: records.length > page.limit && last ? encodeCursor(last) : null,
  };
}
