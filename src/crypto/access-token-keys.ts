/**
 * The HS256 keys of access tokens (src/auth/jwt.ts): one secret per `kid`, derived inside
 * src/crypto and never handed out. Callers give the header fields and claims to sign, and the
 * checks to verify with; the algorithm is fixed here (HS256 only, whatever the caller passes).
 */
import {
  jwtVerify,
  SignJWT,
  type JWTHeaderParameters,
  type JWTPayload,
  type JWTVerifyOptions,
  type JWTVerifyResult,
} from "jose";

const ALGORITHM = "HS256";

export class AccessTokenKeys {
  readonly #derive: (kid: string) => Promise<Uint8Array>;
  /** Derived secrets of the kids this process has used. */
  readonly #secrets = new Map<string, Uint8Array>();

  /** Only src/crypto constructs one (CryptoService.accessTokenKeys). */
  constructor(derive: (kid: string) => Promise<Uint8Array>) {
    this.#derive = derive;
  }

  /** A compact JWS: header {alg: HS256, ...header, kid}, the claims as payload, signed with kid's secret. */
  async sign(kid: string, claims: JWTPayload, header: Omit<JWTHeaderParameters, "alg" | "kid"> = {}): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: ALGORITHM, ...header, kid }).sign(await this.#secret(kid));
  }

  /**
   * jose's jwtVerify with HS256 only. `checkKid` runs before any secret is derived: it must throw
   * for a kid the caller does not trust (its error propagates unchanged), so an attacker-chosen
   * kid never selects a key.
   */
  async verify<T extends JWTPayload>(
    token: string,
    checkKid: (kid: string | undefined) => Promise<string> | string,
    options: JWTVerifyOptions,
  ): Promise<JWTVerifyResult<T>> {
    return jwtVerify<T>(token, async (header) => this.#secret(await checkKid(header.kid)), {
      ...options,
      algorithms: [ALGORITHM],
    });
  }

  async #secret(kid: string): Promise<Uint8Array> {
    let secret = this.#secrets.get(kid);
    if (secret === undefined) {
      secret = await this.#derive(kid);
      this.#secrets.set(kid, secret);
    }
    return secret;
  }

  toJSON(): Record<string, never> {
    return {};
  }
}
