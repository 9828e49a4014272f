/**
 * The claim checks of an access token whose signature already holds (src/auth/jwt.ts): issuer,
 * audience, the time claims with a small clock tolerance, a lifetime no longer than any tenant
 * may set, and the product's own claims in their types. The rules are jose's jwtVerify with the
 * options the appliance used before it verified tokens itself, except that `aud` must be our
 * audience as a string (the product never issues a list).
 */

/** Any access token, or other credential, that does not open the door; the message is for logs only. */
export class InvalidTokenError extends Error {
  override readonly name = "InvalidTokenError";
}

/** Longest access-token lifetime a tenant may set; a retired key is kept this long after its last use. */
export const MAX_ACCESS_TOKEN_SECONDS = 86_400;
export const CLOCK_TOLERANCE_SECONDS = 30;

export interface AccessClaims {
  readonly sub: string;
  readonly tid: string;
  readonly sid: string;
  readonly scopes: readonly string[];
  readonly jti: string;
  readonly exp: number;
}

export interface ClaimExpectations {
  readonly issuer: string;
  readonly audience: string;
  readonly now: Date;
}

export function checkAccessClaims(
  payload: Readonly<Record<string, unknown>>,
  expected: ClaimExpectations,
): AccessClaims {
  if (payload.iss !== expected.issuer) throw new InvalidTokenError("unexpected iss");
  if (payload.aud !== expected.audience) throw new InvalidTokenError("unexpected aud");
  checkTimes(payload, Math.floor(expected.now.getTime() / 1000));
  return productClaims(payload);
}

function checkTimes(payload: Readonly<Record<string, unknown>>, now: number): void {
  const iat = numericDate(payload, "iat");
  const nbf = numericDate(payload, "nbf");
  const exp = numericDate(payload, "exp");
  if (nbf > now + CLOCK_TOLERANCE_SECONDS) throw new InvalidTokenError("not yet valid");
  if (exp <= now - CLOCK_TOLERANCE_SECONDS) throw new InvalidTokenError("expired");
  if (now - iat - CLOCK_TOLERANCE_SECONDS > MAX_ACCESS_TOKEN_SECONDS) throw new InvalidTokenError("too old");
  if (now - iat < -CLOCK_TOLERANCE_SECONDS) throw new InvalidTokenError("issued in the future");
}

function numericDate(payload: Readonly<Record<string, unknown>>, name: "iat" | "nbf" | "exp"): number {
  const value = payload[name];
  if (typeof value !== "number" || !Number.isFinite(value)) throw new InvalidTokenError(`missing or bad ${name}`);
  return value;
}

function productClaims(payload: Readonly<Record<string, unknown>>): AccessClaims {
  const { sub, jti, exp, tid, sid, scopes } = payload;
  if (
    typeof sub !== "string" ||
    typeof jti !== "string" ||
    typeof exp !== "number" ||
    typeof tid !== "string" ||
    typeof sid !== "string"
  ) {
    throw new InvalidTokenError("missing claims");
  }
  if (!Array.isArray(scopes) || !scopes.every((s): s is string => typeof s === "string"))
    throw new InvalidTokenError("bad scopes claim");
  return { sub, jti, exp, tid, sid, scopes };
}
