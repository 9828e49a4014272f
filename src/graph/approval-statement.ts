/**
 * What a critical sign-off approves, as exact bytes (docs/signing.md): a security review approved,
 * or a release moved to `released`. The statement names the tenant, the node at its current
 * version, the outcome, and each subject (what the review covers through `reviewed_in` edges, what
 * ships in the release through `ships_in` edges) with its version; its canonical form is RFC 8785
 * JSON, and the person signs SHA-256 of those bytes. A change to the node or to any subject moves a
 * version, so a signature made before it no longer verifies.
 */
import { createHash } from "node:crypto";
import canonicalizeModule from "canonicalize";
import type { EdgeRepository } from "../db/repositories/edges.js";
import type { NodeRecord, NodeRepository } from "../db/repositories/nodes.js";
import { DomainError } from "../errors.js";

// canonicalize is CommonJS; its typings declare an ES default export (same workaround as src/audit/seal.ts).
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

export const APPROVAL_PURPOSES = {
  review: "vecto.security-review.approve",
  release: "vecto.release.sign-off",
} as const;

/** The reads a statement is made from: a read handle's, or a write transaction's. */
export interface GraphReads {
  readonly nodes: Pick<NodeRepository, "get" | "getMany">;
  readonly edges: Pick<EdgeRepository, "touching">;
}

export interface ApprovalStatement {
  readonly purpose: (typeof APPROVAL_PURPOSES)[keyof typeof APPROVAL_PURPOSES];
  /** The RFC 8785 canonical JSON of the statement: what the digest is taken of. */
  readonly canonical: string;
  /** SHA-256 of `canonical`, lowercase hex: the 32 bytes a person signs. */
  readonly digest: string;
  /** The nodes the sign-off covers, with their authors. */
  readonly subjects: readonly NodeRecord[];
}

/** The nodes joined to `node` by edges of `type` ending at it (reviewed_in → review, ships_in → release). */
function joinedTo(reads: GraphReads, node: NodeRecord, type: "reviewed_in" | "ships_in"): NodeRecord[] {
  const ids = reads.edges
    .touching([node.id])
    .filter((e) => e.type === type && e.toId === node.id)
    .map((e) => e.fromId);
  return reads.nodes.getMany(ids);
}

function checkApprovable(node: NodeRecord): "review" | "release" {
  if (node.archivedAt !== null) throw new DomainError("rejected", "an archived node cannot be signed off");
  if (node.type === "review") {
    if (node.reviewKind !== "security")
      throw new DomainError("rejected", "only a security review needs a signed approval; set this verdict directly");
    if (node.verdict === "approved") throw new DomainError("conflict", "this security review is approved already");
    return "review";
  }
  if (node.type === "release") {
    if (node.status === "released") throw new DomainError("conflict", "this release is released already");
    return "release";
  }
  throw new DomainError("rejected", "only a security review or a release is signed off");
}

/** The statement a person signs to approve `node` now; refuses a node that cannot be signed off. */
export function approvalStatement(reads: GraphReads, tenantId: string, node: NodeRecord): ApprovalStatement {
  const kind = checkApprovable(node);
  const subjects = joinedTo(reads, node, kind === "review" ? "reviewed_in" : "ships_in");
  if (subjects.length === 0)
    throw new DomainError(
      "rejected",
      kind === "review"
        ? "nothing is joined to this review by a reviewed_in edge: there is nothing to approve"
        : "nothing ships in this release (no ships_in edge): there is nothing to sign off",
    );
  const purpose = APPROVAL_PURPOSES[kind];
  const statement = {
    purpose,
    tenantId,
    projectId: node.projectId,
    nodeId: node.id,
    version: node.version,
    ...(kind === "review" ? { verdict: "approved" } : { status: "released" }),
    subjects: subjects
      .map((s) => ({ id: s.id, version: s.version }))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
  };
  const canonical = canonicalize(statement);
  if (canonical === undefined) throw new Error("approval statement is not serialisable");
  return { purpose, canonical, digest: createHash("sha256").update(canonical, "utf8").digest("hex"), subjects };
}

/**
 * Whose work a security review covers: the authors of its subjects, and of every release a subject
 * ships in (one `ships_in` edge away). None of them may approve it.
 */
export function authorsUnderReview(reads: GraphReads, subjects: readonly NodeRecord[]): Set<string> {
  const ids = new Set(subjects.map((s) => s.id));
  const releases = reads.edges
    .touching([...ids])
    .filter((e) => e.type === "ships_in" && ids.has(e.fromId))
    .map((e) => e.toId);
  return new Set([...subjects, ...reads.nodes.getMany(releases)].map((n) => n.authorId));
}
