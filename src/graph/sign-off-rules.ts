/**
 * The rules plain node writes (nodes.ts) obey so that separation of duties holds (docs/signing.md):
 * a security review approved and a release released are reached only through a signed approval
 * (approval.ts), and an agent never sets, clears or changes the verdict of a security review.
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
