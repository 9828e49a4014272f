/**
 * The HS256 keys of access tokens (src/auth/jwt.ts): one secret per `kid`, derived inside
 * src/crypto and never handed out. The token shape is fixed here (src/crypto/compact-jws.ts):
 * header {alg: HS256, typ: at+jwt, kid}, the claims as payload.
 *
 * Signing and verifying are synchronous node:crypto HMAC on a KeyObject prepared once per kid.
 * Not WebCrypto (as jose does it): WebCrypto's HMAC runs in libuv's thread pool, where every
 * request then waited behind argon2 during a login storm, and it imported the key on each call.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from "node:crypto";
import { decodePayload, parseJws, signingInputOf } from "./compact-jws.js";
import { JwsError } from "./errors.js";

export class AccessTokenKeys {
  readonly #derive: (kid: string) => Promise<Uint8Array>;
  /** The keys of the kids this process has used, prepared once; forget() drops those that left the ring. */
  readonly #keys = new Map<string, KeyObject>();

  /** Only src/crypto constructs one (CryptoService.accessTokenKeys). */
  constructor(derive: (kid: string) => Promise<Uint8Array>) {
    this.#derive = derive;
  }

  /** A compact JWS: header {alg: HS256, typ: at+jwt, kid}, the claims as payload, signed with kid's secret. */
  async sign(kid: string, claims: Readonly<Record<string, unknown>>): Promise<string> {
    const input = signingInputOf(kid, claims);
    return `${input}.${mac(await this.#key(kid), input).toString("base64url")}`;
  }

  /**
   * The payload of a token whose format, header and signature hold; the claims are the caller's to
   * check. Throws JwsError. `checkKid` runs after the header checks and
   * before any key is looked up: it must throw for a kid the caller does not trust (its error
   * propagates unchanged), so an attacker-chosen kid never selects a key.
   */
  async verify(token: string, checkKid: (kid: string) => void): Promise<Record<string, unknown>> {
    const jws = parseJws(token);
    checkKid(jws.kid);
    // Cached after the kid's first use: from then on no await and no thread pool on this path.
    const key = this.#keys.get(jws.kid) ?? (await this.#key(jws.kid));
    if (!timingSafeEqual(mac(key, jws.signingInput), jws.signature)) throw new JwsError("bad signature");
    return decodePayload(jws.payloadSegment);
  }

  /** Drops the prepared keys of kids that are no longer in the ring. */
  forget(ring: readonly string[]): void {
    for (const kid of this.#keys.keys()) if (!ring.includes(kid)) this.#keys.delete(kid);
  }

  async #key(kid: string): Promise<KeyObject> {
    let key = this.#keys.get(kid);
    if (key === undefined) {
      const secret = await this.#derive(kid);
      key = createSecretKey(secret);
      secret.fill(0);
      this.#keys.set(kid, key);
    }
    return key;
  }

  toJSON(): Record<string, never> {
    return {};
  }
}

function mac(key: KeyObject, input: string): Buffer {
  return createHmac("sha256", key).update(input, "utf8").digest();
}
