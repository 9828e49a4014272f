/**
 * The rules plain node and edge writes (nodes.ts, edges.ts) obey so that separation of duties holds
 * (docs/signing.md): a security review approved and a release released are reached only through a
 * signed approval (approval.ts), an agent never sets, clears or changes the verdict of a security
 * review, and what a signed-off node covers is not changed by adding or removing its edges.
 */
import type { Principal } from "../auth/principal.js";
import { DomainError } from "../errors.js";

/** A node's state as far as sign-offs are concerned. */
export interface SignOffState {
  readonly type: string;
  readonly status: string;
  readonly reviewKind: string | null;
  readonly verdict: string | null;
}

/** A node that only a signed approval may bring to this state. */
export function isSignedOffState(state: SignOffState): boolean {
  return (
    (state.type === "review" && state.reviewKind === "security" && state.verdict === "approved") ||
    (state.type === "release" && state.status === "released")
  );
}

function securityVerdict(state: SignOffState | null): string | null {
  return state !== null && state.type === "review" && state.reviewKind === "security" ? state.verdict : null;
}

/**
 * The rule for a node created (`before` null) or changed without a signature: an agent changes no
 * security review's verdict (setting, clearing, or changing the kind of a review that has one), and
 * nobody reaches a signed-off state this way.
 */
export function checkPlainWrite(principal: Principal, before: SignOffState | null, after: SignOffState): void {
  if (principal.actorKind !== "human" && securityVerdict(before) !== securityVerdict(after))
    throw new DomainError("separation-of-duties", "an agent never sets or changes the verdict of a security review");
  if (isSignedOffState(after) && (before === null || !isSignedOffState(before)))
    throw new DomainError(
      "signature-required",
      after.type === "release"
        ? "releasing is a signed sign-off: GET /api/nodes/{id}/approval, sign its digest, POST /api/nodes/{id}/approve"
        : "approving a security review needs a signed approval: GET /api/nodes/{id}/approval, sign its digest, " +
            "POST /api/nodes/{id}/approve",
    );
}

/**
 * An edge that would change what a signed-off node covers: a `reviewed_in` edge to an approved
 * security review, a `ships_in` edge to a released release, added or removed. The signature named
 * its subjects; a new subject needs a new review (or release).
 */
export function checkSignedOffEdge(type: string, to: SignOffState | undefined): void {
  if (to === undefined || !isSignedOffState(to)) return;
  if (type === "reviewed_in")
    throw new DomainError("conflict", "this security review is approved: what it covers is fixed; open a new review");
  if (type === "ships_in")
    throw new DomainError("conflict", "this release is released: what ships in it is fixed; plan a new release");
}
