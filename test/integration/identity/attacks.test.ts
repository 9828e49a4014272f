/**
 * Attacks on identity, each of which must fail for the attacker (DESIGN.md "Identity and access").
 *
 * Forged access tokens are made with jose, the way an attacker would (alg none, HS/RS confusion,
 * tampering) and, for the claim checks, with the appliance's real signing secret so that only the
 * one bad claim is wrong. A correctly signed token with valid claims is accepted (the control
 * case), so every rejection below is due to the claim under test and not to a broken forger.
 */
import { createHmac, generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, SignJWT, UnsecuredJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  behindTheApi,
  identityFixture,
  STRONG_PASSWORD,
  type Account,
  type Fixture,
  type TenantAccount,
} from "../../identity-fixture.js";
import { accessTokenSecret } from "../../platform-secrets.js";
import { MIN_ARGON2, PasswordHasher } from "../../../src/auth/passwords.js";

const PROBLEM = /^application\/problem\+json/;

interface Pair {
  readonly accessToken: string;
  readonly refreshToken: string;
  readonly sessionId: string;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** A token built byte by byte: any header, any payload, any signature. */
function rawJwt(header: Record<string, unknown>, payload: Record<string, unknown>, signature = ""): string {
  return `${b64(header)}.${b64(payload)}.${signature}`;
}

const inOneDay = (): string => new Date(Date.now() + 86_400_000).toISOString();

describe("identity attacks", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let other: TenantAccount;
  let member: Account;
  let viewer: Account;
  /** Claims and header of a real access token of acme's member. */
  let realClaims: JWTPayload & { tid: string; sid: string; scopes: string[] };
  let realKid: string;
  let secret: Uint8Array;
  let issuer: string;
  let rsa: { publicKey: KeyObject; privateKey: KeyObject };

  async function me(token: string): Promise<Response> {
    return f.call("GET", "/api/me", { token });
  }

  async function expectUnauthorized(res: Response, label: string): Promise<void> {
    expect(res.status, label).toBe(401);
    expect(res.headers.get("content-type"), label).toMatch(PROBLEM);
    const body = (await res.json()) as { type: string; status: number };
    expect(body.type, label).toBe("urn:vecto:problem:unauthorized");
    expect(body.status, label).toBe(401);
  }

  async function expectStatus(res: Response, status: number, label: string): Promise<void> {
    expect(res.status, `${label}: ${res.status === status ? "" : await res.clone().text()}`).toBe(status);
    if (status >= 400) expect(res.headers.get("content-type"), label).toMatch(PROBLEM);
  }

  /** Refused by policy: 403 (forbidden) or 422 (rejected) are both a refusal; anything else is not. */
  async function expectDenied(res: Response, label: string): Promise<void> {
    expect([403, 422], `${label}: ${res.status} ${await res.clone().text()}`).toContain(res.status);
    expect(res.headers.get("content-type"), label).toMatch(PROBLEM);
  }

  /**
   * Signs by hand (so jose's own signing-side checks cannot stop a malformed header) with the
   * real secret of the real kid; `edit` changes exactly what the case is about.
   */
  function forge(
    edit: {
      header?: Record<string, unknown>;
      claims?: Record<string, unknown>;
      omit?: string[];
      key?: Uint8Array;
    } = {},
  ): string {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: issuer,
      aud: "vecto-api",
      sub: realClaims.sub,
      tid: realClaims.tid,
      sid: realClaims.sid,
      scopes: realClaims.scopes,
      jti: randomUUID(),
      iat: now,
      nbf: now,
      exp: now + 600,
      ...edit.claims,
    };
    for (const name of edit.omit ?? []) delete claims[name];
    const header = { alg: "HS256", typ: "at+jwt", kid: realKid, ...edit.header };
    const hash = ({ HS384: "sha384", HS512: "sha512" } as Record<string, string>)[String(header.alg)] ?? "sha256";
    const input = `${b64(header)}.${b64(claims)}`;
    return `${input}.${createHmac(hash, edit.key ?? secret)
      .update(input)
      .digest("base64url")}`;
  }

  async function login(slug: string | undefined, account: { email: string }): Promise<Pair> {
    const res = await f.login(slug, account.email, STRONG_PASSWORD);
    expect(res.status).toBe(200);
    return (await res.json()) as Pair;
  }

  async function refresh(refreshToken: string): Promise<Response> {
    return f.call("POST", "/api/auth/refresh", { body: { refreshToken } });
  }

  async function createPat(token: string, scopes: string[]): Promise<Response> {
    return f.call("POST", "/api/tokens", { token, body: { name: "attack", scopes, expiresAt: inOneDay() } });
  }

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("acme-attacks");
    other = await f.createTenant("other-attacks");
    member = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    viewer = await f.createUser(acme.admin, { role: "viewer" }, acme.slug);
    realClaims = decodeJwt(member.tokens.accessToken) as typeof realClaims;
    realKid = decodeProtectedHeader(member.tokens.accessToken).kid ?? "";
    secret = await accessTokenSecret(f.services.crypto.masterKeys, f.services.db.keystore, realKid);
    issuer = `vecto:${f.services.db.installationId()}`;
    rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  });
  afterAll(() => f.close());

  describe("forged and tampered access tokens", () => {
    it("control: the real token, and a token forged with the real key and valid claims, are accepted", async () => {
      expect(realKid).not.toBe("");
      expect(realClaims.iss).toBe(issuer);
      expect(realClaims.aud).toBe("vecto-api");
      expect((await me(member.tokens.accessToken)).status).toBe(200);
      const res = await me(forge());
      expect(res.status).toBe(200);
      expect(((await res.json()) as { user: { id: string } }).user.id).toBe(member.id);
    });

    it("alg none is refused, with or without typ/kid, with or without a signature", async () => {
      const claims = { ...realClaims, exp: Math.floor(Date.now() / 1000) + 600 };
      const signature = member.tokens.accessToken.split(".")[2] ?? "";
      const cases: [string, string][] = [
        [
          "jose UnsecuredJWT",
          new UnsecuredJWT(claims)
            .setIssuer(issuer)
            .setAudience("vecto-api")
            .setSubject(member.id)
            .setIssuedAt()
            .setNotBefore("0s")
            .setExpirationTime("10m")
            .encode(),
        ],
        ["none + typ + kid", rawJwt({ alg: "none", typ: "at+jwt", kid: realKid }, claims)],
        ["None (case)", rawJwt({ alg: "None", typ: "at+jwt", kid: realKid }, claims)],
        ["none with the real signature", rawJwt({ alg: "none", typ: "at+jwt", kid: realKid }, claims, signature)],
        ["no alg at all", rawJwt({ typ: "at+jwt", kid: realKid }, claims, signature)],
      ];
      for (const [label, token] of cases) await expectUnauthorized(await me(token), label);
    });

    it("HS/RS confusion and foreign algorithms are refused", async () => {
      const publicPem = rsa.publicKey.export({ type: "spki", format: "pem" }) as string;
      const jwk = rsa.publicKey.export({ format: "jwk" });
      const cases: [string, string][] = [
        [
          "RS256 signed by the attacker",
          await new SignJWT({ ...realClaims })
            .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: realKid })
            .sign(rsa.privateKey),
        ],
        [
          "RS256 with an embedded jwk",
          await new SignJWT({ ...realClaims })
            .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: realKid, jwk })
            .sign(rsa.privateKey),
        ],
        ["HS256 keyed with an RSA public key (PEM)", forge({ key: new TextEncoder().encode(publicPem) })],
        [
          "HS256 keyed with an RSA public key (DER)",
          forge({ key: new Uint8Array(rsa.publicKey.export({ type: "spki", format: "der" })) }),
        ],
        ["HS512 with the real secret", forge({ header: { alg: "HS512" } })],
        ["HS384 with the real secret", forge({ header: { alg: "HS384" } })],
        ["HS256 keyed with an empty-ish secret", forge({ key: new Uint8Array(32) })],
      ];
      for (const [label, token] of cases) await expectUnauthorized(await me(token), label);
    });

    it("a wrong, unknown or missing kid is refused, even when the secret is derived the appliance's way", async () => {
      const bogus = "not-a-real-kid";
      const cases: [string, string][] = [
        [
          "unknown kid, secret derived for it",
          forge({
            header: { kid: bogus },
            key: await accessTokenSecret(f.services.crypto.masterKeys, f.services.db.keystore, bogus),
          }),
        ],
        ["unknown kid, real secret", forge({ header: { kid: bogus } })],
        ["missing kid", forge({ header: { kid: undefined } })],
        ["empty kid", forge({ header: { kid: "" } })],
        [
          "real kid, secret of another kid",
          forge({ key: await accessTokenSecret(f.services.crypto.masterKeys, f.services.db.keystore, bogus) }),
        ],
        ["path-like kid", forge({ header: { kid: `../${realKid}` } })],
      ];
      for (const [label, token] of cases) await expectUnauthorized(await me(token), label);
    });

    it("expired, not-yet-valid, too old, wrong aud/iss/typ and missing claims are refused", async () => {
      const now = Math.floor(Date.now() / 1000);
      const cases: [string, string][] = [
        ["expired an hour ago", forge({ claims: { iat: now - 7200, nbf: now - 7200, exp: now - 3600 } })],
        ["expired beyond the clock tolerance", forge({ claims: { iat: now - 600, nbf: now - 600, exp: now - 120 } })],
        ["not valid before an hour from now", forge({ claims: { nbf: now + 3600, exp: now + 7200 } })],
        ["issued in the future", forge({ claims: { iat: now + 3600, nbf: now, exp: now + 7200 } })],
        [
          "older than the longest lifetime",
          forge({ claims: { iat: now - 2 * 86_400, nbf: now - 2 * 86_400, exp: now + 600 } }),
        ],
        ["wrong audience", forge({ claims: { aud: "some-other-api" } })],
        ["audience list without ours", forge({ claims: { aud: ["a", "b"] } })],
        ["wrong issuer", forge({ claims: { iss: "vecto:another-installation" } })],
        ["wrong typ JWT", forge({ header: { typ: "JWT" } })],
        ["id-token typ", forge({ header: { typ: "id+jwt" } })],
        ["missing typ", forge({ header: { typ: undefined } })],
        ["unknown critical header", forge({ header: { crit: ["x-attack"], "x-attack": true } })],
        ...["exp", "nbf", "iat", "jti", "sub", "iss", "aud", "tid", "sid", "scopes"].map((claim): [string, string] => [
          `missing ${claim}`,
          forge({ omit: [claim] }),
        ]),
        ["scopes not a list", forge({ claims: { scopes: "platform:admin" } })],
        ["sid of a session that does not exist", forge({ claims: { sid: crypto.randomUUID() } })],
        ["sub of another user of the same session's tenant", forge({ claims: { sub: acme.admin.id } })],
        ["tid of another tenant, this tenant's session", forge({ claims: { tid: other.tenantId } })],
        [
          "tid of another tenant, its admin as sub, this tenant's session",
          forge({ claims: { tid: other.tenantId, sub: other.admin.id } }),
        ],
        [
          "this tenant's tid, another tenant's admin and session",
          forge({ claims: { sub: other.admin.id, sid: other.admin.tokens.sessionId } }),
        ],
      ];
      for (const [label, token] of cases) await expectUnauthorized(await me(token), label);
    });

    it("extra scopes in a correctly signed token grant nothing beyond the user's role", async () => {
      const token = forge({ claims: { scopes: ["self", "platform:admin", "users:manage", "keys:manage"] } });
      const res = await me(token);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { scopes: string[] }).scopes).not.toContain("platform:admin");
      await expectStatus(await f.call("GET", "/api/tenants", { token }), 403, "platform route");
      await expectStatus(await f.call("GET", "/api/users", { token }), 403, "users route");
    });

    it("a tampered payload or header invalidates the signature", async () => {
      const [header, payload, signature] = member.tokens.accessToken.split(".") as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as Record<string, unknown>;
      const cases: [string, string][] = [
        [
          "scopes raised",
          `${header}.${b64({ ...claims, scopes: [...realClaims.scopes, "users:manage", "platform:admin"] })}.${signature}`,
        ],
        ["sub changed to the admin", `${header}.${b64({ ...claims, sub: acme.admin.id })}.${signature}`],
        [
          "sid changed to the admin's session",
          `${header}.${b64({ ...claims, sid: acme.admin.tokens.sessionId, sub: acme.admin.id })}.${signature}`,
        ],
        ["exp extended", `${header}.${b64({ ...claims, exp: (claims.exp as number) + 86_400 })}.${signature}`],
        [
          "header kid changed",
          `${b64({ ...decodeProtectedHeader(member.tokens.accessToken), kid: "other" })}.${payload}.${signature}`,
        ],
        [
          "signature flipped",
          `${header}.${payload}.${signature.slice(0, 10)}${signature[10] === "A" ? "B" : "A"}${signature.slice(11)}`,
        ],
        ["signature dropped", `${header}.${payload}.`],
        [
          "token of another user with this signature",
          `${acme.admin.tokens.accessToken.split(".").slice(0, 2).join(".")}.${signature}`,
        ],
      ];
      for (const [label, token] of cases) await expectUnauthorized(await me(token), label);
    });

    it("a refresh token, a personal-token look-alike or garbage is not an access token", async () => {
      const pair = await login(acme.slug, member);
      const cases: [string, string][] = [
        ["refresh token as bearer", pair.refreshToken],
        ["vct_ prefix on a refresh token", `vct_${pair.refreshToken}`],
        ["well-shaped personal token that was never issued", `vct_${"A".repeat(43)}${"A".repeat(6)}`],
        ["random dotted garbage", "aaaaaaaaaaaa.bbbbbbbbbbbb.cccccccccccc"],
      ];
      for (const [label, token] of cases) await expectUnauthorized(await me(token), label);
      // The refresh token still works as what it is: it was not consumed or harmed by the attempts.
      expect((await refresh(pair.refreshToken)).status).toBe(200);
      // And an access token is not a refresh token (too long for one: refused as malformed), nor is a made-up one.
      await expectStatus(await refresh(pair.accessToken), 422, "access token as refresh token");
      await expectUnauthorized(await refresh(pair.accessToken.slice(-43)), "access token's signature as refresh token");
      await expectUnauthorized(
        await refresh(pair.refreshToken.replace(/^./, (ch) => (ch === "A" ? "B" : "A"))),
        "refresh token with one character changed",
      );
      await expectUnauthorized(
        await f.call("GET", "/api/me", {
          headers: { Authorization: `Basic ${Buffer.from(`${member.email}:${STRONG_PASSWORD}`).toString("base64")}` },
        }),
        "basic auth",
      );
      await expectUnauthorized(
        await f.call("GET", "/api/me", { headers: { Authorization: `Bearer  ${member.tokens.accessToken}` } }),
        "malformed bearer header",
      );
    });

    it("the Bearer scheme name is case-insensitive (RFC 7235), the token's charset is still checked", async () => {
      for (const scheme of ["bearer", "BEARER", "bEaReR"]) {
        expect(
          (await f.call("GET", "/api/me", { headers: { Authorization: `${scheme} ${member.tokens.accessToken}` } }))
            .status,
          scheme,
        ).toBe(200);
      }
      await expectUnauthorized(
        await f.call("GET", "/api/me", { headers: { Authorization: `bearer ${member.tokens.accessToken}!` } }),
        "token outside token68",
      );
      await expectUnauthorized(
        await f.call("GET", "/api/me", { headers: { Authorization: `bearerx ${member.tokens.accessToken}` } }),
        "another scheme",
      );
    });
  });

  describe("refresh tokens", () => {
    it("replaying a spent refresh token revokes the whole family, newer tokens included, and raises a security event", async () => {
      const first = await login(acme.slug, member);
      const secondRes = await refresh(first.refreshToken);
      expect(secondRes.status).toBe(200);
      const second = (await secondRes.json()) as Pair;
      const thirdRes = await refresh(second.refreshToken);
      expect(thirdRes.status).toBe(200);
      const third = (await thirdRes.json()) as Pair;
      expect(third.sessionId).toBe(first.sessionId);
      expect((await me(third.accessToken)).status).toBe(200);
      // An unrelated session of the same user must survive the revocation of this family.
      const bystander = await login(acme.slug, member);
      const auditor = await f.createUser(acme.admin, { role: "viewer", auditor: true }, acme.slug);
      const reuseEvents = async (): Promise<
        {
          vid: string;
          event: string;
          sensitivity: string;
          severity: string;
          actor: { id: string };
          payload: Record<string, unknown>;
        }[]
      > => {
        const res = await f.call("GET", "/api/audit?event=auth.refresh_reused", { token: auditor.tokens.accessToken });
        expect(res.status).toBe(200);
        return (await res.text())
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => JSON.parse(l) as Awaited<ReturnType<typeof reuseEvents>>[number]);
      };
      const notifications = async (): Promise<{ message: string; triggeredByAuditVid: string }[]> =>
        (
          (await (await f.call("GET", "/api/notifications", { token: bystander.accessToken })).json()) as {
            notifications: { message: string; triggeredByAuditVid: string }[];
          }
        ).notifications;
      const eventsBefore = (await reuseEvents()).length;
      const notificationsBefore = (await notifications()).length;

      await expectUnauthorized(await refresh(first.refreshToken), "replayed spent refresh token");

      await expectUnauthorized(await me(third.accessToken), "newest access token of the family");
      await expectUnauthorized(await me(second.accessToken), "older access token of the family");
      await expectUnauthorized(await me(first.accessToken), "first access token of the family");
      await expectUnauthorized(await refresh(third.refreshToken), "newest (unspent) refresh token of the family");
      await expectUnauthorized(await refresh(second.refreshToken), "second spent refresh token");
      expect((await me(bystander.accessToken)).status).toBe(200);

      // The real audit trail holds the security event, signed into the tenant's log, read back through the API.
      const reuse = (await reuseEvents()).slice(eventsBefore);
      expect(reuse).toHaveLength(1);
      expect(reuse[0]).toMatchObject({
        sensitivity: "security",
        severity: "critical",
        actor: { id: member.id },
        payload: { sessionId: first.sessionId, revoked: "session" },
      });
      expect(JSON.stringify(reuse)).not.toContain(first.refreshToken);
      // And the owner is told, by a notification tied to that very audit event.
      const after = await notifications(); // newest first
      const told = after.slice(0, after.length - notificationsBefore);
      expect(told).toHaveLength(1);
      expect(told[0]?.triggeredByAuditVid).toBe(reuse[0]?.vid);
      expect(told[0]?.message).toMatch(/used twice/);
    });

    it("a refresh token is bound to its session: logging out the session kills it", async () => {
      const pair = await login(acme.slug, member);
      expect((await f.call("POST", "/api/auth/logout", { token: pair.accessToken })).status).toBe(204);
      await expectUnauthorized(await refresh(pair.refreshToken), "refresh after logout");
    });
  });

  describe("roles and scopes", () => {
    it("a member cannot raise its own role, capabilities or status, nor create or manage users", async () => {
      const token = member.tokens.accessToken;
      for (const body of [
        { role: "tenant_admin" },
        { auditor: true },
        { role: "platform_root" },
        { status: "active" },
      ]) {
        await expectStatus(
          await f.call("PATCH", `/api/users/${member.id}`, { token, body }),
          403,
          `self PATCH ${JSON.stringify(body)}`,
        );
      }
      await expectStatus(
        await f.call("PATCH", `/api/users/${acme.admin.id}`, { token, body: { role: "viewer" } }),
        403,
        "demote the admin",
      );
      await expectStatus(await f.call("DELETE", `/api/users/${acme.admin.id}`, { token }), 403, "delete the admin");
      await expectStatus(
        await f.call("POST", "/api/users", {
          token,
          body: { email: "sock@example.test", name: "Sock Puppet", role: "tenant_admin", password: STRONG_PASSWORD },
        }),
        403,
        "create an admin",
      );
      await expectStatus(await f.call("GET", "/api/users", { token }), 403, "list users");
      await expectStatus(await f.call("GET", "/api/tenants", { token }), 403, "list tenants");
      await expectStatus(await createPat(token, ["self", "users:manage"]), 422, "PAT with users:manage");
      await expectStatus(await createPat(token, ["self", "platform:admin"]), 422, "PAT with platform:admin");
      const after = (await (
        await f.call("GET", `/api/users/${member.id}`, { token: acme.admin.tokens.accessToken })
      ).json()) as { user: { role: string; auditor: boolean } };
      expect(after.user).toMatchObject({ role: "member", auditor: false });
      expect((await me(token)).status).toBe(200); // nothing happened to it, not even a revocation
    });

    it("a tenant admin cannot create a platform root or change itself", async () => {
      const token = acme.admin.tokens.accessToken;
      await expectStatus(
        await f.call("POST", "/api/users", {
          token,
          body: { email: "root2@example.test", name: "Fake Root", role: "platform_root", password: STRONG_PASSWORD },
        }),
        422,
        "create platform_root",
      );
      await expectStatus(
        await f.call("PATCH", `/api/users/${acme.admin.id}`, { token, body: { role: "platform_root" } }),
        422,
        "become platform_root",
      );
      await expectStatus(
        await f.call("PATCH", `/api/users/${acme.admin.id}`, { token, body: { auditor: true } }),
        403,
        "grant itself auditor",
      );
      await expectStatus(await f.call("GET", "/api/tenants", { token }), 403, "platform routes");
      await expectStatus(
        await f.call("PATCH", `/api/tenants/${acme.tenantId}`, { token, body: { accessTokenTtlSeconds: 86_400 } }),
        403,
        "its own tenant's settings",
      );
    });

    it("a viewer cannot write", async () => {
      const token = viewer.tokens.accessToken;
      await expectStatus(
        await f.call("POST", "/api/users", {
          token,
          body: { email: "v2@example.test", name: "Viewer Two", role: "viewer", password: STRONG_PASSWORD },
        }),
        403,
        "create user",
      );
      await expectStatus(
        await f.call("PATCH", `/api/users/${member.id}`, { token, body: { name: "Renamed" } }),
        403,
        "rename a user",
      );
      await expectStatus(
        await f.call("PATCH", `/api/users/${viewer.id}`, { token, body: { role: "member" } }),
        403,
        "raise itself",
      );
      await expectStatus(await f.call("DELETE", `/api/users/${member.id}`, { token }), 403, "delete a user");
      await expectStatus(await createPat(token, ["self", "graph:write"]), 422, "PAT with graph:write");
      await expectStatus(await createPat(token, ["graph:read", "ai:invoke"]), 422, "PAT with ai:invoke");
      await expectStatus(
        await f.call("POST", "/api/tenants", {
          token,
          body: {
            slug: "viewer-tenant",
            name: "V",
            admin: { email: "v@example.test", name: "V", password: STRONG_PASSWORD },
          },
        }),
        403,
        "create tenant",
      );
      const scopes = ((await (await me(token)).json()) as { scopes: string[] }).scopes;
      expect(scopes.sort()).toEqual(["graph:read", "self"]);
    });

    it("the platform root does not reach tenant content: users:manage routes answer 403", async () => {
      const token = f.root.tokens.accessToken;
      const before = await (
        await f.call("GET", `/api/users/${member.id}`, { token: acme.admin.tokens.accessToken })
      ).text();
      await expectStatus(await f.call("GET", "/api/users", { token }), 403, "list users");
      await expectStatus(
        await f.call("POST", "/api/users", {
          token,
          body: { email: "planted@example.test", name: "Planted", role: "tenant_admin", password: STRONG_PASSWORD },
        }),
        403,
        "create user",
      );
      await expectStatus(await f.call("GET", `/api/users/${member.id}`, { token }), 403, "read a tenant user");
      await expectStatus(
        await f.call("PATCH", `/api/users/${member.id}`, { token, body: { role: "tenant_admin" } }),
        403,
        "change a tenant user",
      );
      await expectStatus(await f.call("DELETE", `/api/users/${member.id}`, { token }), 403, "delete a tenant user");
      await expectStatus(
        await f.call("DELETE", `/api/sessions/${member.tokens.sessionId}`, { token }),
        404,
        "end a tenant user's session",
      );
      expect(
        await (await f.call("GET", `/api/users/${member.id}`, { token: acme.admin.tokens.accessToken })).text(),
      ).toBe(before);
      expect((await me(member.tokens.accessToken)).status).toBe(200);
      // Even with users:manage forged into a correctly signed token, the role decides.
      const rootClaims = decodeJwt(token);
      const forged = forge({
        claims: {
          sub: rootClaims.sub,
          tid: rootClaims.tid,
          sid: rootClaims.sid,
          scopes: ["self", "platform:admin", "users:manage", "graph:read"],
        },
      });
      expect((await me(forged)).status).toBe(200);
      await expectStatus(await f.call("GET", "/api/users", { token: forged }), 403, "forged users:manage");
    });
  });

  describe("personal access tokens", () => {
    it("a PAT cannot create another PAT, even with the self scope", async () => {
      const created = await createPat(member.tokens.accessToken, ["self", "graph:read"]);
      expect(created.status).toBe(201);
      const pat = ((await created.json()) as { token: string }).token;
      expect((await me(pat)).status).toBe(200);
      const res = await createPat(pat, ["self"]);
      await expectDenied(res, "PAT creating a PAT");
      expect(((await res.json()) as { detail: string }).detail).toContain("cannot create another access token");
      const list = (await (await f.call("GET", "/api/tokens", { token: member.tokens.accessToken })).json()) as {
        tokens: unknown[];
      };
      expect(list.tokens).toHaveLength(1);
    });

    it("a PAT cannot grant scopes its owner lacks, and a PAT's scopes never exceed the owner's role", async () => {
      await expectStatus(
        await createPat(member.tokens.accessToken, ["self", "users:manage"]),
        422,
        "member granting users:manage",
      );
      await expectStatus(
        await createPat(viewer.tokens.accessToken, ["graph:write"]),
        422,
        "viewer granting graph:write",
      );
      await expectStatus(
        await createPat(acme.admin.tokens.accessToken, ["platform:admin"]),
        422,
        "admin granting platform:admin",
      );
      await expectStatus(
        await createPat(acme.admin.tokens.accessToken, ["audit:security"]),
        422,
        "admin granting audit:security (not an auditor)",
      );
      await expectStatus(
        await createPat(f.root.tokens.accessToken, ["users:manage"]),
        422,
        "root granting users:manage",
      );
      await expectStatus(
        await f.call("POST", "/api/tokens", {
          token: member.tokens.accessToken,
          body: { name: "x", scopes: ["self", "superuser"], expiresAt: inOneDay() },
        }),
        422,
        "unknown scope",
      );
      await expectStatus(
        await f.call("POST", "/api/tokens", {
          token: member.tokens.accessToken,
          body: { name: "x", scopes: ["self"], expiresAt: new Date(Date.now() + 400 * 86_400_000).toISOString() },
        }),
        422,
        "beyond the longest lifetime",
      );
      await expectStatus(
        await f.call("POST", "/api/tokens", {
          token: member.tokens.accessToken,
          body: { name: "x", scopes: ["self"], expiresAt: new Date(Date.now() - 1000).toISOString() },
        }),
        422,
        "already expired",
      );
      // A narrow PAT is narrow: a self-only token cannot use the admin's users:manage.
      const narrow = await createPat(acme.admin.tokens.accessToken, ["self"]);
      expect(narrow.status).toBe(201);
      const narrowToken = ((await narrow.json()) as { token: string }).token;
      await expectStatus(
        await f.call("GET", "/api/users", { token: narrowToken }),
        403,
        "self-only PAT on users:manage",
      );
    });

    it("a PAT of a disabled user stops working, and does not come back when the user is enabled", async () => {
      const owner = await f.createUser(acme.admin, { role: "member" }, acme.slug);
      const created = await createPat(owner.tokens.accessToken, ["self", "graph:read"]);
      expect(created.status).toBe(201);
      const pat = ((await created.json()) as { token: string }).token;
      expect((await me(pat)).status).toBe(200);
      expect(
        (
          await f.call("PATCH", `/api/users/${owner.id}`, {
            token: acme.admin.tokens.accessToken,
            body: { status: "disabled" },
          })
        ).status,
      ).toBe(200);
      await expectUnauthorized(await me(pat), "PAT of a disabled user");
      expect(
        (
          await f.call("PATCH", `/api/users/${owner.id}`, {
            token: acme.admin.tokens.accessToken,
            body: { status: "active" },
          })
        ).status,
      ).toBe(200);
      await expectUnauthorized(await me(pat), "PAT after re-enabling");
    });

    it("a PAT of a deleted user or of a suspended tenant stops working", async () => {
      const owner = await f.createUser(acme.admin, { role: "member" }, acme.slug);
      const pat = ((await (await createPat(owner.tokens.accessToken, ["self"])).json()) as { token: string }).token;
      expect((await me(pat)).status).toBe(200);
      expect((await f.call("DELETE", `/api/users/${owner.id}`, { token: acme.admin.tokens.accessToken })).status).toBe(
        204,
      );
      await expectUnauthorized(await me(pat), "PAT of a deleted user");
      await expectUnauthorized(await me(owner.tokens.accessToken), "session of a deleted user");

      const doomed = await f.createTenant("doomed-attacks");
      const adminPat = (
        (await (await createPat(doomed.admin.tokens.accessToken, ["self", "users:manage"])).json()) as { token: string }
      ).token;
      expect((await f.call("GET", "/api/users", { token: adminPat })).status).toBe(200);
      expect(
        (
          await f.call("PATCH", `/api/tenants/${doomed.tenantId}`, {
            token: f.root.tokens.accessToken,
            body: { status: "suspended" },
          })
        ).status,
      ).toBe(200);
      await expectUnauthorized(await f.call("GET", "/api/users", { token: adminPat }), "PAT of a suspended tenant");
    });
  });

  describe("agents", () => {
    async function agentInProject(): Promise<{ agent: Account; projectId: string }> {
      const agent = await f.createUser(acme.admin, { role: "member", kind: "agent" }, acme.slug);
      const project = await f.call("POST", "/api/projects", {
        token: acme.admin.tokens.accessToken,
        body: { name: `Agent home ${agent.id.slice(0, 8)}` },
      });
      expect(project.status).toBe(201);
      const projectId = ((await project.json()) as { project: { id: string } }).project.id;
      expect(
        (
          await f.call("PUT", `/api/projects/${projectId}/members/${agent.id}`, {
            token: acme.admin.tokens.accessToken,
            body: { role: "editor" },
          })
        ).status,
      ).toBe(200);
      return { agent, projectId };
    }

    async function issueForAgent(token: string, agentId: string, body: Record<string, unknown>): Promise<Response> {
      return f.call("POST", `/api/users/${agentId}/tokens`, {
        token,
        body: { name: "agent", scopes: ["self", "graph:read"], expiresAt: inOneDay(), ...body },
      });
    }

    it("an admin's personal access token cannot mint an agent's token (a PAT creating another PAT)", async () => {
      const { agent, projectId } = await agentInProject();
      const adminPat = await createPat(acme.admin.tokens.accessToken, ["self", "users:manage", "graph:read"]);
      expect(adminPat.status).toBe(201);
      const pat = ((await adminPat.json()) as { token: string }).token;
      await expectDenied(await issueForAgent(pat, agent.id, { projectId }), "admin PAT minting an agent token");
      const list = (await (
        await f.call("GET", `/api/users/${agent.id}/tokens`, { token: acme.admin.tokens.accessToken })
      ).json()) as { tokens: unknown[] };
      expect(list.tokens, "no agent token may have been created").toHaveLength(0);
    });

    it("an agent's token stays within the agent: its project, its role, and it cannot create tokens", async () => {
      const { agent, projectId } = await agentInProject();
      const admin = acme.admin.tokens.accessToken;
      await expectDenied(await issueForAgent(admin, agent.id, { projectId: null }), "agent token without a project");
      const elsewhere = await f.call("POST", "/api/projects", { token: admin, body: { name: "Not the agent's" } });
      const otherProject = ((await elsewhere.json()) as { project: { id: string } }).project.id;
      await expectDenied(
        await issueForAgent(admin, agent.id, { projectId: otherProject }),
        "agent token for a project it is not in",
      );
      await expectDenied(
        await issueForAgent(admin, agent.id, { projectId, scopes: ["self", "users:manage"] }),
        "agent token beyond the agent's role",
      );
      await expectDenied(await issueForAgent(admin, member.id, { projectId }), "agent route used for a human");
      await expectDenied(
        await issueForAgent(member.tokens.accessToken, agent.id, { projectId }),
        "a member issuing an agent token",
      );

      const issued = await issueForAgent(admin, agent.id, { projectId, scopes: ["self", "graph:read", "graph:write"] });
      expect(issued.status).toBe(201);
      const agentToken = ((await issued.json()) as { token: string }).token;
      const me = (await (await f.call("GET", "/api/me", { token: agentToken })).json()) as {
        projectId: string;
        credential: string;
      };
      expect(me).toMatchObject({ projectId, credential: "access-token" });
      await expectDenied(await createPat(agentToken, ["self"]), "agent token creating a PAT");
      await expectStatus(
        await f.call("GET", `/api/projects/${otherProject}`, { token: agentToken }),
        404,
        "agent token outside its project",
      );
      await expectStatus(await f.call("GET", "/api/users", { token: agentToken }), 403, "agent token on users:manage");
      expect((await f.call("GET", `/api/projects/${projectId}`, { token: agentToken })).status).toBe(200);

      expect(
        (await f.call("PATCH", `/api/users/${agent.id}`, { token: admin, body: { status: "disabled" } })).status,
      ).toBe(200);
      await expectUnauthorized(await f.call("GET", "/api/me", { token: agentToken }), "token of a disabled agent");
    });

    it("an agent user cannot log in with a password, not even one stored for it behind the API's back", async () => {
      const agent = await f.createUser(acme.admin, { role: "member", kind: "agent" }, acme.slug);
      await expectUnauthorized(await f.login(acme.slug, agent.email, STRONG_PASSWORD), "agent login, no password set");
      await expectStatus(
        await f.call("POST", "/api/users", {
          token: acme.admin.tokens.accessToken,
          body: {
            email: "agent-pw@example.test",
            name: "Agent Pw",
            kind: "agent",
            role: "member",
            password: STRONG_PASSWORD,
          },
        }),
        422,
        "agent created with a password",
      );
      const hash = await new PasswordHasher(MIN_ARGON2, 1).hash(STRONG_PASSWORD);
      await behindTheApi(f.services.db, acme.tenantId, (tx) =>
        tx.users.update(agent.id, { passwordHash: hash }, tx.now),
      );
      await expectUnauthorized(
        await f.login(acme.slug, agent.email, STRONG_PASSWORD),
        "agent login, password planted in the database",
      );
    });
  });
});
