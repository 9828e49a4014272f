/** A new access-token signing key on the operator's request (`vecto keys rotate-jwt`), recorded as auth.jwt_key_rotated. */
import type { EventSink } from "../audit/events.js";
import type { Actor } from "../vocabulary/events.js";
import type { AccessTokens } from "./jwt.js";

export async function rotateAccessTokenKey(
  deps: { readonly accessTokens: AccessTokens; readonly events: EventSink },
  actor: Actor,
): Promise<string> {
  const kid = await deps.accessTokens.rotate();
  deps.events.emit({
    event: "auth.jwt_key_rotated",
    sensitivity: "security",
    severity: "info",
    tenantId: null,
    actor,
    payload: { kid },
  });
  return kid;
}
