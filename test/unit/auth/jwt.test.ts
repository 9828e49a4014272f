import { createHmac, randomUUID } from "node:crypto";
import { join } from "node:path";
import { decodeProtectedHeader } from "jose";
import { describe, expect, it, onTestFinished } from "vitest";
import { AccessTokens, InvalidTokenError, KEY_ROTATION_SECONDS } from "../../../src/auth/jwt.js";
import { CryptoService } from "../../../src/crypto/crypto-service.js";
import { EnvKeyResolver, generateMasterKeyFile } from "../../../src/crypto/resolvers/env.js";
import { Database } from "../../../src/db/db.js";
import { testDir } from "../../helpers.js";
import { accessTokenSecret } from "../../platform-secrets.js";

const subject = { userId: "u-1", tenantId: "t-1", sessionId: "s-1", scopes: ["self", "graph:read"] };
const ISSUER = "vecto:test";

interface Installation {
  readonly tokens: AccessTokens;
  readonly clock: { now: Date };
  readonly db: Database;
  /** The HS256 secret of a kid, computed the way someone holding the master key and the keystore would. */
  secretOf(kid: string): Promise<Uint8Array>;
  /** Another AccessTokens on the same database and master key: what another process (the CLI) holds. */
  sibling(): AccessTokens;
}

async function installation(): Promise<Installation> {
  const dir = testDir();
  const clock = { now: new Date("2026-11-28T10:00:00.000Z") };
  const db = Database.open(join(dir, "vecto.db"), { now: () => clock.now });
  onTestFinished(() => db.close());
  await generateMasterKeyFile(join(dir, "master.key"));
  const resolver = await EnvKeyResolver.fromFile(join(dir, "master.key"));
  const crypto = new CryptoService(resolver, db.keystore);
  return {
    tokens: new AccessTokens(db, crypto, ISSUER, "vecto-api", () => clock.now),
    clock,
    db,
    secretOf: (kid) => accessTokenSecret(resolver, db.keystore, kid),
    sibling: () => new AccessTokens(db, new CryptoService(resolver, db.keystore), ISSUER, "vecto-api", () => clock.now),
  };
}

describe("access tokens on a rotating key ring", () => {
  const kidOf = (token: string): string | undefined => decodeProtectedHeader(token).kid;

  it("signs HS256 at+jwt with a kid and verifies its own tokens", async () => {
    const { tokens } = await installation();
    const { token } = await tokens.sign(subject, 3600);
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "at+jwt", kid: kidOf(token) });
    expect(kidOf(token)).toMatch(/^[A-Za-z0-9_-]{12}$/);
    expect(await tokens.verify(token)).toMatchObject({
      sub: "u-1",
      tid: "t-1",
      sid: "s-1",
      scopes: ["self", "graph:read"],
    });
  });

  it("keeps verifying tokens of a rotated-out key until they expire", async () => {
    const { tokens, clock } = await installation();
    const old = await tokens.sign(subject, 3600);
    await tokens.rotate();
    const fresh = await tokens.sign(subject, 3600);
    expect(kidOf(fresh.token)).not.toBe(kidOf(old.token));
    expect((await tokens.verify(old.token)).sub).toBe("u-1");
    clock.now = new Date(clock.now.getTime() + 3601_000 + 30_000);
    await expect(tokens.verify(old.token)).rejects.toBeInstanceOf(InvalidTokenError);
  });

  it("rotates by itself once the signing key is a week old, and forgets long-retired keys", async () => {
    const { tokens, clock, db } = await installation();
    const first = await tokens.sign(subject, 3600);
    clock.now = new Date(clock.now.getTime() + (KEY_ROTATION_SECONDS + 60) * 1000);
    const second = await tokens.sign(subject, 3600);
    expect(kidOf(second.token)).not.toBe(kidOf(first.token));
    clock.now = new Date(clock.now.getTime() + (KEY_ROTATION_SECONDS + 60) * 1000);
    await tokens.sign(subject, 3600); // third key; the first was retired over two days ago and is pruned
    const ring = db.jwtKeys.list().map((k) => k.kid);
    expect(ring).toHaveLength(2);
    expect(ring).not.toContain(kidOf(first.token));
    expect(ring).toContain(kidOf(second.token));
  });

  it("forgets a kid pruned from the ring by another process once it reads the ring again", async () => {
    const { tokens, clock, db, secretOf, sibling } = await installation();
    const first = await tokens.sign(subject, 3600);
    const firstKid = kidOf(first.token) ?? "";
    // Another process rotates twice, three days apart: the first kid, retired over two days ago, is pruned.
    const cli = sibling();
    for (const _ of [1, 2]) {
      clock.now = new Date(clock.now.getTime() + 3 * 86_400_000);
      await cli.rotate();
    }
    expect(db.jwtKeys.list().map((k) => k.kid)).not.toContain(firstKid);
    // A token of a kid new to this process makes it re-read the ring, which drops the pruned kid.
    expect((await tokens.verify((await cli.sign(subject, 3600)).token)).sub).toBe("u-1");
    const now = Math.floor(clock.now.getTime() / 1000);
    const claims = { ...payloadOf(first.token), iat: now, nbf: now, exp: now + 600 };
    const stale = signed({ alg: "HS256", typ: "at+jwt", kid: firstKid }, claims, await secretOf(firstKid));
    await expect(tokens.verify(stale)).rejects.toThrow("unknown kid");
  });
});

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
const payloadOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>;

/** A token built byte by byte and signed by hand: any header, any claims, any key, any HMAC hash. */
function signed(
  header: Record<string, unknown>,
  claims: unknown,
  key: Uint8Array,
  hash: "sha256" | "sha384" | "sha512" = "sha256",
): string {
  return signedSegments(`${b64(header)}.${b64(claims)}`, key, hash);
}

/** header.payload as given, with its HMAC: for segments that are not plain JSON in base64url. */
function signedSegments(input: string, key: Uint8Array, hash: "sha256" | "sha384" | "sha512" = "sha256"): string {
  return `${input}.${createHmac(hash, key).update(input).digest("base64url")}`;
}

/** The last base64url character of an unpadded 32-byte value carries 2 unused bits: this sets them. */
function respelled(segment: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const last = alphabet.indexOf(segment.slice(-1));
  return (
    segment.slice(0, -1) + (alphabet[last | 0b01] === segment.slice(-1) ? alphabet[last ^ 0b10] : alphabet[last | 0b01])
  );
}

describe("the access-token verifier refuses what the product never issues", () => {
  async function forger(): Promise<{
    tokens: AccessTokens;
    forge(edit?: {
      header?: Record<string, unknown>;
      claims?: Record<string, unknown>;
      omit?: string[];
      key?: Uint8Array;
      hash?: "sha256" | "sha384" | "sha512";
    }): string;
    kid: string;
    real: string;
    secret: Uint8Array;
    otherInstallationSecret: Uint8Array;
    now: number;
  }> {
    const mine = await installation();
    const real = (await mine.tokens.sign(subject, 3600)).token;
    const kid = decodeProtectedHeader(real).kid ?? "";
    const secret = await mine.secretOf(kid);
    // Another installation, its own master key and root secret, asked for the same kid.
    const other = await installation();
    await other.tokens.sign(subject, 60); // creates its root secret
    const otherInstallationSecret = await other.secretOf(kid);
    const now = Math.floor(mine.clock.now.getTime() / 1000);
    const forge = (
      edit: {
        header?: Record<string, unknown>;
        claims?: Record<string, unknown>;
        omit?: string[];
        key?: Uint8Array;
        hash?: "sha256" | "sha384" | "sha512";
      } = {},
    ): string => {
      const claims: Record<string, unknown> = {
        tid: subject.tenantId,
        sid: subject.sessionId,
        scopes: subject.scopes,
        iss: ISSUER,
        aud: "vecto-api",
        sub: subject.userId,
        jti: randomUUID(),
        iat: now,
        nbf: now,
        exp: now + 600,
        ...edit.claims,
      };
      for (const name of edit.omit ?? []) delete claims[name];
      const header: Record<string, unknown> = { alg: "HS256", typ: "at+jwt", kid, ...edit.header };
      for (const [name, value] of Object.entries(header)) if (value === undefined) delete header[name];
      return signed(header, claims, edit.key ?? secret, edit.hash);
    };
    return { tokens: mine.tokens, forge, kid, real, secret, otherInstallationSecret, now };
  }

  async function expectRefused(tokens: AccessTokens, cases: readonly (readonly [string, string])[]): Promise<void> {
    const accepted: string[] = [];
    for (const [label, token] of cases) {
      const outcome = await tokens.verify(token).then(
        () => "accepted",
        (error: unknown) => (error instanceof InvalidTokenError ? "refused" : `threw ${String(error)}`),
      );
      if (outcome !== "refused") accepted.push(`${label}: ${outcome}`);
    }
    expect(accepted).toEqual([]);
  }

  it("control: the real token and a hand-signed one with the real key are accepted", async () => {
    const { tokens, forge, real } = await forger();
    expect((await tokens.verify(real)).sub).toBe("u-1");
    expect((await tokens.verify(forge())).sub).toBe("u-1");
  });

  it("refuses alg none, other algorithms with the same key, and any header field the product does not issue", async () => {
    const { tokens, forge, kid, real } = await forger();
    const [header, payload, signature] = real.split(".") as [string, string, string];
    await expectRefused(tokens, [
      ["alg none, no signature", `${b64({ alg: "none", typ: "at+jwt", kid })}.${payload}.`],
      ["alg none, the real signature", `${b64({ alg: "none", typ: "at+jwt", kid })}.${payload}.${signature}`],
      ["no alg", forge({ header: { alg: undefined } })],
      ["alg RS256 over an HMAC with the real key", forge({ header: { alg: "RS256" } })],
      ["alg HS512 with the real key", forge({ header: { alg: "HS512" }, hash: "sha512" })],
      ["alg HS384 with the real key", forge({ header: { alg: "HS384" }, hash: "sha384" })],
      ["alg hs256 (case)", forge({ header: { alg: "hs256" } })],
      ["typ JWT", forge({ header: { typ: "JWT" } })],
      ["typ application/at+jwt", forge({ header: { typ: "application/at+jwt" } })],
      ["no typ", forge({ header: { typ: undefined } })],
      ["no kid", forge({ header: { kid: undefined } })],
      ["kid a number", forge({ header: { kid: 7 } })],
      ["path-like kid", forge({ header: { kid: `../${kid}` } })],
      ["crit", forge({ header: { crit: ["exp"] } })],
      ["b64 false", forge({ header: { b64: false, crit: ["b64"] } })],
      ["embedded jwk", forge({ header: { jwk: { kty: "oct", k: "AAAA" } } })],
      ["jku", forge({ header: { jku: "https://attacker.example/jwks" } })],
      ["x5u", forge({ header: { x5u: "https://attacker.example/cert" } })],
      ["cty", forge({ header: { cty: "JWT" } })],
      ["an extra harmless-looking field", forge({ header: { x: 1 } })],
      ["header a JSON array", `${b64(["HS256"])}.${payload}.${signature}`],
      ["header not JSON", `${Buffer.from("{alg:HS256").toString("base64url")}.${payload}.${signature}`],
      ["header unchanged but respelled", `${header} .${payload}.${signature}`],
    ]);
  });

  it("refuses a changed signature, another installation's key, and a payload that is not a claims object", async () => {
    const { tokens, forge, real, secret, otherInstallationSecret, kid } = await forger();
    const [header, payload, signature] = real.split(".") as [string, string, string];
    const bytes = Buffer.from(signature, "base64url");
    const flipped = (at: number): string => {
      const copy = Buffer.from(bytes);
      copy[at] = (copy[at] ?? 0) ^ 0x01;
      return `${header}.${payload}.${copy.toString("base64url")}`;
    };
    const ours = { alg: "HS256", typ: "at+jwt", kid };
    await expectRefused(tokens, [
      ["first signature byte flipped", flipped(0)],
      ["middle signature byte flipped", flipped(16)],
      ["last signature byte flipped", flipped(31)],
      ["signature respelled (same bytes, stray bits set)", `${header}.${payload}.${respelled(signature)}`],
      ["signature cut by one byte", `${header}.${payload}.${bytes.subarray(0, 31).toString("base64url")}`],
      ["signature doubled", `${header}.${payload}.${signature}${signature}`],
      ["signature dropped", `${header}.${payload}.`],
      ["another installation's secret for the same kid", forge({ key: otherInstallationSecret })],
      ["an all-zero key", forge({ key: new Uint8Array(32) })],
      ["payload a JSON array, correctly signed", signed(ours, ["not", "claims"], secret)],
      ["payload JSON null, correctly signed", signed(ours, null, secret)],
      [
        "payload not JSON, correctly signed",
        signedSegments(`${b64(ours)}.${Buffer.from("sub=u-1").toString("base64url")}`, secret),
      ],
    ]);
  });

  it("refuses expired, not yet valid, too old, wrong audience or issuer, and missing or mistyped claims", async () => {
    const { tokens, forge, now, secret, kid } = await forger();
    const claims = payloadOf(forge());
    const json = JSON.stringify(claims).replace(`"exp":${String(claims.exp)}`, '"exp":1e999');
    const infiniteExp = signedSegments(
      `${b64({ alg: "HS256", typ: "at+jwt", kid })}.${Buffer.from(json).toString("base64url")}`,
      secret,
    );
    expect(json).toContain("1e999");
    await expectRefused(tokens, [
      ["expired an hour ago", forge({ claims: { iat: now - 7200, nbf: now - 7200, exp: now - 3600 } })],
      ["expired just beyond the 30 s tolerance", forge({ claims: { exp: now - 30 } })],
      ["not valid for an hour", forge({ claims: { nbf: now + 3600, exp: now + 7200 } })],
      ["not valid just beyond the tolerance", forge({ claims: { nbf: now + 31 } })],
      ["issued an hour from now", forge({ claims: { iat: now + 3600 } })],
      ["older than the longest lifetime", forge({ claims: { iat: now - 86_400 - 31, nbf: now - 86_400 - 31 } })],
      ["wrong audience", forge({ claims: { aud: "some-other-api" } })],
      ["audience list, ours in it", forge({ claims: { aud: ["vecto-api", "other"] } })],
      ["wrong issuer", forge({ claims: { iss: "vecto:another-installation" } })],
      ["exp a string", forge({ claims: { exp: String(now + 600) } })],
      ["exp 1e999 (Infinity once parsed)", infiniteExp],
      ...["exp", "nbf", "iat", "jti", "sub", "iss", "aud", "tid", "sid", "scopes"].map(
        (claim) => [`missing ${claim}`, forge({ omit: [claim] })] as const,
      ),
      ["scopes a string", forge({ claims: { scopes: "platform:admin" } })],
      ["scopes with a number", forge({ claims: { scopes: ["self", 7] } })],
    ]);
    // The edges of the tolerance hold the other way: 29 s late or early is still accepted.
    expect((await tokens.verify(forge({ claims: { exp: now - 29, nbf: now + 30, iat: now + 30 } }))).sub).toBe("u-1");
  });

  it("refuses truncated, oversize and malformed tokens, correctly signed or not", async () => {
    const { tokens, forge, real, secret, kid } = await forger();
    const [header, payload, signature] = real.split(".") as [string, string, string];
    const ours = { alg: "HS256", typ: "at+jwt", kid };
    const big = forge({ claims: { pad: "x".repeat(4096) } });
    // "???" encodes to "Pz8/": standard base64 differs from base64url here.
    const standardBase64 = Buffer.from(JSON.stringify({ ...payloadOf(forge()), note: "???" })).toString("base64");
    await expectRefused(tokens, [
      ["empty", ""],
      ["one segment", header],
      ["two segments", `${header}.${payload}`],
      ["four segments", `${real}.${signature}`],
      ["last character cut", real.slice(0, -1)],
      ["cut in the payload", `${header}.${payload.slice(0, 20)}.${signature}`],
      ["oversize though correctly signed", big],
      ["padding on the signature", `${real}=`],
      ["base64 '+' in the signature", `${header}.${payload}.${signature.slice(0, 10)}+${signature.slice(11)}`],
      ["whitespace inside the payload", `${header}.${payload.slice(0, 10)} ${payload.slice(10)}.${signature}`],
      ["a newline at the end", `${real}\n`],
      ["non-ASCII in the header", `${header}\u00e9.${payload}.${signature}`],
      ["standard-base64 payload, correctly signed", signedSegments(`${b64(ours)}.${standardBase64}`, secret)],
      ["padded payload, correctly signed", signedSegments(`${b64(ours)}.${payload}==`, secret)],
    ]);
    expect(big.length).toBeGreaterThan(4096);
    expect(standardBase64).toMatch(/[+/=]/);
  });
});
