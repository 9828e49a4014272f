/**
 * Nodes: ideas, decisions, reviews, tasks, releases and notes of a project. Title and body are
 * tenant content, encrypted with the tenant's DEK and bound to their row; type, status,
 * timestamps and author are plaintext so they can be filtered. Changes need the current
 * version (If-Match): a stale one is refused, so no update is lost.
 */
import { randomUUID } from "node:crypto";
import { actorOf, type Principal } from "../auth/principal.js";
import type { NewNode, NodeChanges, NodeRecord } from "../db/repositories/nodes.js";
import type { TenantDb } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";
import { projectAccess } from "../auth/project-access.js";
import { authorizeWrite, grantEventFields, type WriteGrant } from "../auth/autonomy.js";
import { sealRevision, type SealedRevision } from "./revisions.js";
import { accessWithin, requireTenantAdmin, type GraphDeps } from "./projects.js";
import { checkPlainWrite } from "./sign-off-rules.js";
import { NODE_STATUSES, isStatusOf, type NodeType, type ReviewKind, type ReviewVerdict } from "../vocabulary/graph.js";

export interface NodeInput {
  readonly type: NodeType;
  readonly title: string;
  readonly body: string;
  readonly status?: string;
  readonly reviewKind?: ReviewKind;
  readonly verdict?: ReviewVerdict | null;
}

export interface NodeUpdate {
  readonly title?: string;
  readonly body?: string;
  readonly status?: string;
  readonly reviewKind?: ReviewKind;
  readonly verdict?: ReviewVerdict | null;
}

export interface NodeView {
  readonly id: string;
  readonly projectId: string;
  readonly type: NodeType;
  readonly status: string;
  readonly reviewKind: ReviewKind | null;
  readonly verdict: ReviewVerdict | null;
  readonly title: string;
  readonly body: string;
  readonly author: { readonly type: "human" | "agent"; readonly id: string };
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly archivedAt: string | null;
  /** A draft takes effect only when a human approves it (src/graph/drafts.ts). */
  readonly draft: boolean;
}

/** How a node is created: as a draft (`draft: true`) that takes effect only when a human approves it. */
export interface CreateOptions {
  readonly draft?: boolean;
}

export interface NodeQuery {
  readonly type?: NodeType;
  readonly status?: string;
  readonly updatedSince?: string;
  readonly q?: string;
  readonly includeArchived: boolean;
  /** Only drafts (true) or only nodes in effect (false); undefined: both. */
  readonly draft?: boolean;
  readonly cursor?: string;
  readonly limit: number;
}

const MAX_TERMS = 64;

function ref(id: string, column: "title" | "body"): { table: string; column: string; rowId: string } {
  return { table: "nodes", column, rowId: id };
}

/** The words of a title, normalised: what title search matches on. */
export function titleWords(title: string): string[] {
  const words = title
    .normalize("NFKC")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length >= 2);
  return [...new Set(words)].slice(0, MAX_TERMS);
}

function titleTerms(deps: GraphDeps, tenantId: string, title: string): Promise<Uint8Array[]> {
  return Promise.all(titleWords(title).map((word) => deps.crypto.blindIndex(tenantId, "nodes.title", word)));
}

/** Review fields belong to reviews only; a finished review must carry its verdict, an open one none. */
function checkTypeFields(
  type: NodeType,
  status: string,
  reviewKind: ReviewKind | null,
  verdict: ReviewVerdict | null,
): void {
  if (!isStatusOf(type, status))
    throw new DomainError("rejected", `status of a ${type} must be one of ${NODE_STATUSES[type].join(", ")}`);
  if (type !== "review") {
    if (reviewKind !== null || verdict !== null)
      throw new DomainError("rejected", "reviewKind and verdict belong to reviews only");
    return;
  }
  if (status === "done" && verdict === null) throw new DomainError("rejected", "a done review needs a verdict");
  if (status !== "done" && verdict !== null) throw new DomainError("rejected", "only a done review has a verdict");
}

/** The one shape of a node answer: a row's plaintext columns with its title and body in the clear. */
function nodeView(node: NewNode, title: string, body: string): NodeView {
  return {
    id: node.id,
    projectId: node.projectId,
    type: node.type,
    status: node.status,
    reviewKind: node.reviewKind,
    verdict: node.verdict,
    title,
    body,
    author: { type: node.authorType, id: node.authorId },
    version: node.version,
    createdAt: node.createdAt,
    updatedAt: node.updatedAt,
    archivedAt: node.archivedAt,
    draft: node.draft === true,
  };
}

function decryptTitle(deps: GraphDeps, node: NodeRecord): Promise<string> {
  return deps.crypto.decryptField(node.tenantId, ref(node.id, "title"), node.titleEnc);
}

function decryptBody(deps: GraphDeps, node: NodeRecord): Promise<string> {
  return deps.crypto.decryptField(node.tenantId, ref(node.id, "body"), node.bodyEnc);
}

export async function toNodeView(deps: GraphDeps, node: NodeRecord): Promise<NodeView> {
  return nodeView(node, await decryptTitle(deps, node), await decryptBody(deps, node));
}

/** The node and the caller's access to its project; a node in a project one cannot enter is not found. */
export function nodeAccess(
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
): { node: NodeRecord; canWrite: boolean } {
  // The node, its project and the caller's membership: one read transaction, one snapshot.
  return tenantDb.read(() => {
    const node = tenantDb.nodes.get(nodeId);
    const canWrite = accessWithin(tenantDb, principal, node, "node");
    return { node: node as NodeRecord, canWrite };
  });
}

function writableNode(tenantDb: TenantDb, principal: Principal, nodeId: string): NodeRecord {
  const { node, canWrite } = nodeAccess(tenantDb, principal, nodeId);
  if (!canWrite) throw new DomainError("forbidden", "you may read this project but not change it");
  return node;
}

export async function createNode(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  input: NodeInput,
  options: CreateOptions = {},
): Promise<NodeView> {
  const access = projectAccess(tenantDb, principal, projectId);
  if (!access.canWrite) throw new DomainError("forbidden", "you may read this project but not change it");
  const grant = authorizeWrite(tenantDb, principal, projectId, "node.create");
  const draft = options.draft === true || grant.draft;
  const governed = grantEventFields({ ...grant, draft });
  const status = input.status ?? NODE_STATUSES[input.type][0];
  const reviewKind = input.type === "review" ? (input.reviewKind ?? "other") : (input.reviewKind ?? null);
  const verdict = input.verdict ?? null;
  checkTypeFields(input.type, status, reviewKind, verdict);
  checkPlainWrite(principal, null, { type: input.type, status, reviewKind, verdict });
  const id = randomUUID();
  const tenantId = tenantDb.tenantId;
  const titleEnc = await deps.crypto.encryptField(tenantId, ref(id, "title"), input.title);
  const bodyEnc = await deps.crypto.encryptField(tenantId, ref(id, "body"), input.body);
  const terms = await titleTerms(deps, tenantId, input.title);
  const written = await tenantDb.write((tx) => {
    const node: NewNode = {
      id,
      projectId,
      type: input.type,
      status,
      reviewKind,
      verdict,
      titleEnc,
      bodyEnc,
      authorType: principal.actorKind,
      authorId: principal.userId,
      version: 1,
      createdAt: tx.now,
      updatedAt: tx.now,
      archivedAt: null,
      draft,
    };
    tx.nodes.insert(node, terms);
    tx.audit({
      event: "node.created",
      sensitivity: "normal",
      severity: "info",
      tenantId,
      actor: actorOf(principal),
      payload: { nodeId: id, projectId, type: input.type, ...governed.payload },
      ...(governed.notify ? { notify: governed.notify } : {}),
    });
    return node;
  });
  // The answer is what was written, with the plaintext just sealed: no read back, no decryption.
  return nodeView(written, input.title, input.body);
}

export async function getNode(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
): Promise<NodeView> {
  return toNodeView(deps, nodeAccess(tenantDb, principal, nodeId).node);
}

function encodeCursor(node: NodeRecord): string {
  return Buffer.from(`${node.updatedAt}|${node.id}`, "utf8").toString("base64url");
}

function decodeCursor(cursor: string): { updatedAt: string; id: string } {
  const [updatedAt, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  if (!updatedAt || !id || Number.isNaN(Date.parse(updatedAt)))
    throw new DomainError("rejected", "cursor is not one this server issued");
  return { updatedAt, id };
}

export async function listNodes(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  query: NodeQuery,
): Promise<{ nodes: NodeView[]; nextCursor: string | null }> {
  projectAccess(tenantDb, principal, projectId);
  const words = query.q === undefined ? [] : titleWords(query.q);
  if (query.q !== undefined && words.length === 0)
    throw new DomainError("rejected", "q needs at least one word of two or more letters or digits");
  const records = tenantDb.nodes.list(projectId, {
    ...(query.type ? { type: query.type } : {}),
    ...(query.status ? { status: query.status } : {}),
    ...(query.updatedSince ? { updatedSince: query.updatedSince } : {}),
    ...(query.draft !== undefined ? { draft: query.draft } : {}),
    ...(query.cursor ? { after: decodeCursor(query.cursor) } : {}),
    terms: await Promise.all(words.map((w) => deps.crypto.blindIndex(tenantDb.tenantId, "nodes.title", w))),
    includeArchived: query.includeArchived,
    limit: query.limit + 1,
  });
  const page = records.slice(0, query.limit);
  const last = page.at(-1);
  return {
    nodes: await Promise.all(page.map((n) => toNodeView(deps, n))),
    nextCursor: records.length > query.limit && last ? encodeCursor(last) : null,
  };
}

type NodeChangeEvent = "node.updated" | "node.archived" | "node.restored";

/** The title and body a change sent in the clear, so that its answer need not decrypt them again. */
interface SentText {
  readonly title?: string;
  readonly body?: string;
}

/**
 * Writes the change and answers with the row as the write left it: the text the change sent as
 * sent, the text it left alone decrypted from that row (nothing is read back).
 */
async function applyUpdate(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  node: NodeRecord,
  expectedVersion: number,
  changes: NodeChanges,
  sent: SentText = {},
  terms?: Uint8Array[],
  event: NodeChangeEvent = "node.updated",
  grant: WriteGrant = { level: null, draft: false },
  revision?: SealedRevision,
): Promise<NodeView> {
  const governed = grantEventFields(grant);
  const written = await tenantDb.write((tx) => {
    const row = tx.nodes.update(node.id, expectedVersion, changes, tx.now, terms);
    if (row === undefined)
      throw new DomainError("precondition-failed", `the node changed since version ${expectedVersion}; fetch it again`);
    if (revision) tx.nodeRevisions.insert({ ...revision, changedAt: tx.now });
    tx.audit({
      event,
      sensitivity: "normal",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: { nodeId: node.id, projectId: node.projectId, version: row.version, ...governed.payload },
      ...(governed.notify ? { notify: governed.notify } : {}),
    });
    return row;
  });
  return nodeView(
    written,
    sent.title ?? (await decryptTitle(deps, written)),
    sent.body ?? (await decryptBody(deps, written)),
  );
}

/** Edits a node (rectification, in GDPR terms). `expectedVersion` comes from If-Match. */
export async function updateNode(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
  expectedVersion: number | undefined,
  update: NodeUpdate,
): Promise<NodeView> {
  const node = writableNode(tenantDb, principal, nodeId);
  const grant = authorizeWrite(tenantDb, principal, node.projectId, "node.update");
  if (expectedVersion === undefined)
    throw new DomainError("precondition-required", 'changing a node needs If-Match: "<version>" from its ETag');
  if (node.version !== expectedVersion)
    throw new DomainError(
      "precondition-failed",
      `the node is at version ${node.version}, not ${expectedVersion}; fetch it again`,
    );
  const status = update.status ?? node.status;
  const reviewKind = update.reviewKind ?? node.reviewKind;
  const verdict = update.verdict !== undefined ? update.verdict : node.verdict;
  checkTypeFields(node.type, status, reviewKind, verdict);
  checkPlainWrite(principal, node, { type: node.type, status, reviewKind, verdict });
  const tenantId = tenantDb.tenantId;
  const changes: NodeChanges = {
    status,
    reviewKind,
    verdict,
    ...(update.title !== undefined
      ? { titleEnc: await deps.crypto.encryptField(tenantId, ref(nodeId, "title"), update.title) }
      : {}),
    ...(update.body !== undefined
      ? { bodyEnc: await deps.crypto.encryptField(tenantId, ref(nodeId, "body"), update.body) }
      : {}),
  };
  const terms = update.title !== undefined ? await titleTerms(deps, tenantId, update.title) : undefined;
  // What an agent's edit replaces is kept, so that a person can undo it (src/graph/revisions.ts).
  const revision = grant.level === null ? undefined : await sealRevision(deps, node, principal.userId);
  return applyUpdate(
    deps,
    tenantDb,
    principal,
    node,
    expectedVersion,
    changes,
    update,
    terms,
    "node.updated",
    grant,
    revision,
  );
}

/**
 * Soft delete: anyone who may change the node archives it. It keeps its edges and content, and
 * is left out of lists, search and traces unless they ask for archived nodes.
 */
export async function archiveNode(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
): Promise<NodeView> {
  const node = writableNode(tenantDb, principal, nodeId);
  const grant = authorizeWrite(tenantDb, principal, node.projectId, "node.archive");
  if (node.archivedAt !== null) return toNodeView(deps, node);
  return applyUpdate(
    deps,
    tenantDb,
    principal,
    node,
    node.version,
    { archivedAt: new Date().toISOString() },
    {},
    undefined,
    "node.archived",
    grant,
  );
}

/**
 * Only a tenant admin brings an archived node back (archiving is the first step of an erasure; undoing it is an admin's
 * call).
 */
export async function restoreNode(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
): Promise<NodeView> {
  const node = nodeAccess(tenantDb, principal, nodeId).node;
  requireTenantAdmin(principal, "restore an archived node");
  if (node.archivedAt === null) return toNodeView(deps, node);
  return applyUpdate(
    deps,
    tenantDb,
    principal,
    node,
    node.version,
    { archivedAt: null },
    {},
    undefined,
    "node.restored",
  );
}
