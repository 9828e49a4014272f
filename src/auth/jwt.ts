/**
 * Access tokens: JWT, HS256 only, `typ: at+jwt` (RFC 9068), with iss, aud, sub, tid, sid,
 * scopes, exp, nbf, iat, jti. Signed by a rotating key ring: each key is named by a `kid` and
 * its secret is derived from the installation root secret inside src/crypto (AccessTokenKeys),
 * so no signing secret is stored, nor ever seen here. After rotation older kids still verify
 * until every token they signed has expired.
 *
 * The JWS itself (strict header, HMAC, constant-time comparison) is src/crypto's, synchronous and
 * off libuv's thread pool (docs/authentication.md); the claims are checked in ./access-claims.ts.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { JwsError, type AccessTokenKeys, type CryptoService } from "../crypto/index.js";
import type { Database } from "../db/db.js";
import { checkAccessClaims, InvalidTokenError, MAX_ACCESS_TOKEN_SECONDS, type AccessClaims } from "./access-claims.js";

export { InvalidTokenError, MAX_ACCESS_TOKEN_SECONDS, type AccessClaims } from "./access-claims.js";
/** A signing key older than this is replaced at the next sign-in: rotation needs no operator. */
export const KEY_ROTATION_SECONDS = 7 * 86_400;

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
    const token = await this.keys.sign(kid, claims);
    this.knownKids.add(kid);
    return { token, expiresAt: new Date(expiresAt * 1000) };
  }

  /** Verifies format, header, signature and claims; any failure is one InvalidTokenError. */
  async verify(token: string): Promise<AccessClaims> {
    let payload: Record<string, unknown>;
    try {
      payload = await this.keys.verify(token, (kid) => this.trustKid(kid));
    } catch (error) {
      if (error instanceof JwsError) throw new InvalidTokenError(error.message);
      throw error;
    }
    return checkAccessClaims(payload, { issuer: this.issuer, audience: this.audience, now: this.now() });
  }

  /** Starts a new signing key; the previous ones keep verifying until their tokens expire. */
  async rotate(): Promise<string> {
    const kid = randomBytes(9).toString("base64url");
    // Key-ring housekeeping, not an action: an operator's rotation is audited by its command.
    await this.db.bookkeep("jwt-key-ring", (tx) => {
      tx.jwtKeys.rotate(kid, tx.now);
      tx.jwtKeys.prune(new Date(Date.parse(tx.now) - 2 * MAX_ACCESS_TOKEN_SECONDS * 1000).toISOString());
    });
    this.readRing();
    return kid;
  }

  private async activeKid(): Promise<string> {
    const active = this.db.jwtKeys.list().find((k) => k.retiredAt === null);
    const fresh = active && this.now().getTime() - Date.parse(active.createdAt) < KEY_ROTATION_SECONDS * 1000;
    return active && fresh ? active.kid : this.rotate();
  }

  /** Throws unless the kid is in the ring, before any key is derived or looked up for it. */
  private trustKid(kid: string): void {
    // A kid seen before was in the ring; it leaves the ring only two days after retirement, when
    // every token it signed has expired (exp is checked), so the cache never widens acceptance.
    if (this.knownKids.has(kid)) return;
    if (!this.readRing().includes(kid)) throw new InvalidTokenError("unknown kid");
  }

  /** The kids in the ring now. The caches follow it: a kid pruned from the ring is forgotten, its key dropped. */
  private readRing(): string[] {
    const ring = this.db.jwtKeys.list().map((k) => k.kid);
    this.knownKids.clear();
    for (const kid of ring) this.knownKids.add(kid);
    this.keys.forget(ring);
    return ring;
  }
}
