/**
 * Separation of duties (docs/signing.md). Critical sign-offs, a security review approved and a
 * release moved to `released`, happen only here: a person (never an agent) who did not author what
 * a security review covers, holding a registered and unrevoked Ed25519 key, signs the digest of
 * the approval statement (approval-statement.ts), and the server verifies that signature against
 * the statement as it stands inside the transaction that records the approval. Plain node writes
 * cannot reach those states (sign-off-rules.ts).
 */
import { actorOf, type Principal } from "../auth/principal.js";
import { decodeBase64Strict, encodePublicKey, ED25519_SIGNATURE_BYTES, verifyEd25519 } from "../crypto/index.js";
import type { NodeRecord } from "../db/repositories/nodes.js";
import type { TenantDb, TenantTx } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";
import { approvalStatement, authorsUnderReview, type ApprovalStatement } from "./approval-statement.js";
import { nodeAccess, toNodeView, type NodeView } from "./nodes.js";
import type { GraphDeps } from "./projects.js";

export interface ApprovalRequest {
  readonly nodeId: string;
  readonly purpose: ApprovalStatement["purpose"];
  readonly canonical: string;
  readonly digest: string;
}

/** The exact bytes to sign for approving a node now (anyone who may read the node may see them). */
export function approvalRequest(tenantDb: TenantDb, principal: Principal, nodeId: string): ApprovalRequest {
  return tenantDb.read(() => {
    const { node } = nodeAccess(tenantDb, principal, nodeId);
    const { purpose, canonical, digest } = approvalStatement(tenantDb, tenantDb.tenantId, node);
    return { nodeId, purpose, canonical, digest };
  });
}

export interface SignedApproval {
  readonly keyId: string;
  /** Base64 of the 64-byte Ed25519 signature over the 32 bytes of the digest. */
  readonly signature: string;
  /** The digest (hex) the signer signed: a stale one is named as such rather than as a bad signature. */
  readonly digest: string;
}

function signatureBytes(signature: string): Uint8Array {
  const bytes = decodeBase64Strict(signature);
  if (bytes === null || bytes.length !== ED25519_SIGNATURE_BYTES)
    throw new DomainError("rejected", `signature must be ${ED25519_SIGNATURE_BYTES} bytes in base64`);
  return bytes;
}

/** The signer's own usable key; someone else's, a revoked or an unknown one is refused alike in effect. */
function signersKey(tx: TenantTx, principal: Principal, keyId: string): Uint8Array {
  const key = tx.signingKeys.get(keyId);
  if (!key || key.userId !== principal.userId)
    throw new DomainError(
      "rejected",
      "no signing key of yours has that key id; register one (POST /api/me/signing-keys)",
    );
  if (key.revokedAt !== null) throw new DomainError("rejected", "that signing key was revoked; it verifies nothing");
  return key.publicKey;
}

/** Everything checked and recorded in one transaction; returns the node as written. */
function signOff(
  tx: TenantTx,
  principal: Principal,
  nodeId: string,
  approval: SignedApproval,
  signature: Uint8Array,
): NodeRecord {
  const node = tx.nodes.get(nodeId);
  if (!node) throw new DomainError("not-found", "no such node");
  const statement = approvalStatement(tx, tx.tenantId, node);
  if (approval.digest !== statement.digest)
    throw new DomainError(
      "precondition-failed",
      "what was signed is no longer what would be approved (the node or a subject changed); fetch the approval again",
    );
  if (
    statement.purpose === "vecto.security-review.approve" &&
    authorsUnderReview(tx, statement.subjects).has(principal.userId)
  )
    throw new DomainError(
      "separation-of-duties",
      "you authored work this review covers; another person must approve it",
    );
  const publicKey = signersKey(tx, principal, approval.keyId);
  if (!verifyEd25519(publicKey, Buffer.from(statement.digest, "hex"), signature))
    throw new DomainError("rejected", "the signature does not verify with that key over the approval's digest");
  const review = node.type === "review";
  const row = tx.nodes.update(
    node.id,
    node.version,
    review ? { status: "done", verdict: "approved" } : { status: "released" },
    tx.now,
  );
  if (row === undefined) throw new Error("node changed inside its own transaction");
  tx.audit({
    event: review ? "review.approved" : "release.signed_off",
    sensitivity: "security",
    severity: "info",
    tenantId: tx.tenantId,
    actor: actorOf(principal),
    // All an auditor needs to verify the signature offline: SHA-256(canonical) = digest, and the signature over it.
    payload: {
      nodeId: node.id,
      projectId: node.projectId,
      version: row.version,
      approverId: principal.userId,
      keyId: approval.keyId,
      publicKey: encodePublicKey(publicKey),
      signature: approval.signature,
      digest: statement.digest,
      canonical: statement.canonical,
    },
  });
  return row;
}

/** A signed approval: the security review approved, or the release released. */
export async function approveNode(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  nodeId: string,
  approval: SignedApproval,
): Promise<NodeView> {
  const { canWrite } = nodeAccess(tenantDb, principal, nodeId);
  if (!canWrite) throw new DomainError("forbidden", "you may read this project but not change it");
  if (principal.actorKind !== "human")
    throw new DomainError("separation-of-duties", "an agent never signs off: critical sign-offs are a person's");
  const signature = signatureBytes(approval.signature);
  const written = await tenantDb.write((tx) => signOff(tx, principal, nodeId, approval, signature));
  return toNodeView(deps, written);
}
