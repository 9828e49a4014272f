/**
 * Access tokens: JWT, HS256 only, `typ: at+jwt` (RFC 9068), with iss, aud, sub, tid, sid,
 * scopes, exp, nbf, iat, jti. Signed by a rotating key ring: each key is named by a `kid` and
 * its secret is derived from the installation root secret inside src/crypto (AccessTokenKeys),
 * so no signing secret is stored, nor ever seen here. After rotation older kids still verify
 * until every token they signed has expired.
 *
 * jose does the JOSE work (algorithm allow-list, claim checks): a well-kept library beats a
 * hand-written verifier for a format with this many pitfalls (alg none, HS/RS confusion).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { errors, type JWTPayload } from "jose";
import type { AccessTokenKeys, CryptoService } from "../crypto/index.js";
import type { Database } from "../db/db.js";

export const ACCESS_TOKEN_TYPE = "at+jwt";
/** Longest access-token lifetime a tenant may set; a retired key is kept this long after its last use. */
export const MAX_ACCESS_TOKEN_SECONDS = 86_400;
const CLOCK_TOLERANCE_SECONDS = 30;
/** A signing key older than this is replaced at the next sign-in: rotation needs no operator. */
export const KEY_ROTATION_SECONDS = 7 * 86_400;

export interface AccessClaims {
  readonly sub: string;
  readonly tid: string;
  readonly sid: string;
  readonly scopes: readonly string[];
  readonly jti: string;
  readonly exp: number;
}

export class InvalidTokenError extends Error {
  override readonly name = "InvalidTokenError";
}

interface Claims extends JWTPayload {
  tid?: unknown;
  sid?: unknown;
  scopes?: unknown;
}

export class AccessTokens {
  /** Kids known to this process to be in the ring; an unknown kid re-reads the ring once (another process may have rotated). */
  private readonly knownKids = new Set<string>();
  private readonly keys: AccessTokenKeys;

  constructor(
    private readonly db: Database,
    crypto: CryptoService,
    private readonly issuer: string,
    private readonly audience = "vecto-api",
    private readonly now: () => Date = () => new Date(),
  ) {
    this.keys = crypto.accessTokenKeys();
  }

  async sign(
    subject: { userId: string; tenantId: string; sessionId: string; scopes: readonly string[] },
    lifetimeSeconds: number,
  ): Promise<{ token: string; expiresAt: Date }> {
    const kid = await this.activeKid();
    const issuedAt = Math.floor(this.now().getTime() / 1000);
    const expiresAt = issuedAt + Math.min(lifetimeSeconds, MAX_ACCESS_TOKEN_SECONDS);
    const claims = {
      tid: subject.tenantId,
      sid: subject.sessionId,
      scopes: [...subject.scopes],
      iss: this.issuer,
      aud: this.audience,
      sub: subject.userId,
      jti: randomUUID(),
      iat: issuedAt,
      nbf: issuedAt,
      exp: expiresAt,
    };
    const token = await this.keys.sign(kid, claims, { typ: ACCESS_TOKEN_TYPE });
    this.knownKids.add(kid);
    return { token, expiresAt: new Date(expiresAt * 1000) };
  }

  /** Verifies signature, algorithm, type and claims; any failure is one InvalidTokenError. */
  async verify(token: string): Promise<AccessClaims> {
    try {
      const { payload } = await this.keys.verify<Claims>(token, (kid) => this.trustedKid(kid), {
        typ: ACCESS_TOKEN_TYPE,
        issuer: this.issuer,
        audience: this.audience,
        requiredClaims: ["sub", "jti", "iat", "nbf", "exp"],
        currentDate: this.now(),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        maxTokenAge: MAX_ACCESS_TOKEN_SECONDS,
      });
      return toClaims(payload);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      if (error instanceof errors.JOSEError) throw new InvalidTokenError(error.code);
      throw error;
    }
  }

  /** Starts a new signing key; the previous ones keep verifying until their tokens expire. */
  async rotate(): Promise<string> {
    const kid = randomBytes(9).toString("base64url");
    // Key-ring housekeeping, not an action: an operator's rotation is audited by its command.
    await this.db.bookkeep("jwt-key-ring", (tx) => {
      tx.jwtKeys.rotate(kid, tx.now);
      tx.jwtKeys.prune(new Date(Date.parse(tx.now) - 2 * MAX_ACCESS_TOKEN_SECONDS * 1000).toISOString());
    });
    return kid;
  }

  private async activeKid(): Promise<string> {
    const active = this.db.jwtKeys.list().find((k) => k.retiredAt === null);
    const fresh = active && this.now().getTime() - Date.parse(active.createdAt) < KEY_ROTATION_SECONDS * 1000;
    return active && fresh ? active.kid : this.rotate();
  }

  /** The token's kid if it is in the ring; throws otherwise, before any key is derived for it. */
  private trustedKid(kid: string | undefined): string {
    if (kid === undefined) throw new InvalidTokenError("missing kid");
    // A kid seen before was in the ring; it leaves the ring only two days after retirement, when
    // every token it signed has expired (exp is checked), so the cache never widens acceptance.
    if (this.knownKids.has(kid)) return kid;
    const known = this.db.jwtKeys.list().find((k) => k.kid === kid);
    if (!known) throw new InvalidTokenError("unknown kid");
    this.knownKids.add(kid);
    return kid;
  }
}

function toClaims(payload: Claims): AccessClaims {
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
