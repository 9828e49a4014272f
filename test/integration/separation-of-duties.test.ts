/**
 * Separation of duties (issue 16 point 6, docs/signing.md), through the API as clients use it, with
 * real agent tokens: signing keys, signed approvals of security reviews and releases, what plain
 * writes and agents may not do, and what the audit event gives an auditor to re-verify offline.
 */
import { createHash, generateKeyPairSync, sign, verify, createPublicKey, type KeyObject } from "node:crypto";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { untar } from "../helpers.js";
import { identityFixture, type Account, type Fixture, type TenantAccount } from "../identity-fixture.js";

const inOneDay = (): string => new Date(Date.now() + 86_400_000).toISOString();
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

interface Key {
  readonly privateKey: KeyObject;
  readonly pem: string;
  readonly raw: Buffer;
  readonly keyId: string;
}

function newKey(): Key {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const raw = publicKey.export({ format: "der", type: "spki" }).subarray(-32);
  return {
    privateKey,
    pem: publicKey.export({ format: "pem", type: "spki" }).toString(),
    raw,
    keyId: createHash("sha256").update(raw).digest("hex").slice(0, 16),
  };
}

/** What a person does with the digest: sign its 32 bytes with their private key. */
const signDigest = (key: Key, digest: string): string =>
  sign(null, Buffer.from(digest, "hex"), key.privateKey).toString("base64");

interface NodeBody {
  readonly id: string;
  readonly version: number;
  readonly status: string;
  readonly verdict: string | null;
}
interface Approval {
  readonly nodeId: string;
  readonly purpose: string;
  readonly canonical: string;
  readonly digest: string;
}
interface Problem {
  readonly type: string;
  readonly detail: string;
}

describe("separation of duties", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let admin: string;
  let bob: Account; // the author of the change under review
  let carol: Account; // the security reviewer
  let dave: Account; // a member without a signing key
  let auditor: Account;
  let agentId: string;
  let agentToken: string;
  let projectId: string;
  const carolKey = newKey();
  const bobKey = newKey();

  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  const problem = async (res: Response, status: number, type: string): Promise<Problem> => {
    const body = await json<Problem>(res);
    expect({ status: res.status, type: body.type }, body.detail).toEqual({ status, type: `urn:vecto:problem:${type}` });
    return body;
  };
  const session = (a: Account): string => a.tokens.accessToken;

  async function node(token: string, body: Record<string, unknown>): Promise<NodeBody> {
    const res = await f.call("POST", `/api/projects/${projectId}/nodes`, { token, body });
    if (res.status !== 201) throw new Error(`create node: ${res.status} ${await res.text()}`);
    return (await json<{ node: NodeBody }>(res)).node;
  }
  async function edge(token: string, type: string, from: string, to: string): Promise<string> {
    const res = await f.call("POST", `/api/projects/${projectId}/edges`, { token, body: { type, from, to } });
    if (res.status !== 201) throw new Error(`create edge: ${res.status} ${await res.text()}`);
    return (await json<{ edge: { id: string } }>(res)).edge.id;
  }
  const patch = (token: string, n: NodeBody, body: Record<string, unknown>): Promise<Response> =>
    f.call("PATCH", `/api/nodes/${n.id}`, { token, body, headers: { "If-Match": `"${n.version}"` } });
  async function approval(token: string, nodeId: string): Promise<Approval> {
    const res = await f.call("GET", `/api/nodes/${nodeId}/approval`, { token });
    if (res.status !== 200) throw new Error(`approval: ${res.status} ${await res.text()}`);
    return (await json<{ approval: Approval }>(res)).approval;
  }
  const approve = (token: string, nodeId: string, body: Record<string, unknown>): Promise<Response> =>
    f.call("POST", `/api/nodes/${nodeId}/approve`, { token, body });
  const register = (token: string, body: Record<string, unknown>): Promise<Response> =>
    f.call("POST", "/api/me/signing-keys", { token, body });

  /** A change by `author`, under a fresh security review opened by carol. */
  async function reviewedChange(author: string): Promise<{ change: NodeBody; review: NodeBody; link: string }> {
    const change = await node(author, { type: "task", title: "Rotate the session keys" });
    const review = await node(session(carol), { type: "review", title: "Security review", reviewKind: "security" });
    const link = await edge(session(carol), "reviewed_in", change.id, review.id);
    return { change, review, link };
  }

  async function auditPayloads(event: string, token = session(auditor)): Promise<Record<string, unknown>[]> {
    const res = await f.call("GET", `/api/audit?event=${event}`, { token });
    expect(res.status).toBe(200);
    return (await res.text())
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => (JSON.parse(l) as { payload: Record<string, unknown> }).payload);
  }

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("sod-acme");
    admin = session(acme.admin);
    bob = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    carol = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    dave = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    auditor = await f.createUser(acme.admin, { role: "viewer", auditor: true }, acme.slug);
    agentId = (await f.createUser(acme.admin, { role: "member", kind: "agent" }, acme.slug)).id;
    projectId = (
      await json<{ project: { id: string } }>(
        await f.call("POST", "/api/projects", { token: admin, body: { name: "Payments" } }),
      )
    ).project.id;
    for (const id of [bob.id, carol.id, dave.id, agentId])
      expect(
        (await f.call("PUT", `/api/projects/${projectId}/members/${id}`, { token: admin, body: { role: "editor" } }))
          .status,
      ).toBe(200);
    // The agent acts without confirmation here (docs/agents.md): what stops it is separation of duties, not autonomy.
    const autonomy = await f.call("PUT", `/api/projects/${projectId}/autonomy`, {
      token: admin,
      body: { rules: [{ agentId, taskType: null, level: "automate" }] },
    });
    expect(autonomy.status).toBe(200);
    const issued = await f.call("POST", `/api/users/${agentId}/tokens`, {
      token: admin,
      body: { name: "bot", scopes: ["self", "graph:read", "graph:write"], projectId, expiresAt: inOneDay() },
    });
    expect(issued.status).toBe(201);
    agentToken = (await json<{ token: string }>(issued)).token;
    expect((await register(session(carol), { name: "carol's laptop", publicKey: carolKey.pem })).status).toBe(201);
    expect(
      (await register(session(bob), { name: "bob's laptop", publicKey: bobKey.raw.toString("base64") })).status,
    ).toBe(201);
  });
  afterAll(() => f.close());

  describe("signing keys", () => {
    it("registers a person's Ed25519 key from a session, by PEM or raw base64, and answers its key id", async () => {
      const res = await f.call("GET", "/api/me/signing-keys", { token: session(carol) });
      expect(res.status).toBe(200);
      const { keys } = await json<{ keys: Record<string, unknown>[] }>(res);
      expect(keys).toEqual([
        {
          keyId: carolKey.keyId,
          name: "carol's laptop",
          publicKey: carolKey.raw.toString("base64"),
          createdAt: expect.any(String) as unknown,
          revokedAt: null,
        },
      ]);
      const registered = await auditPayloads("auth.signing_key_registered");
      expect(registered).toContainEqual({ keyId: carolKey.keyId, publicKey: carolKey.raw.toString("base64") });
    });

    it("refuses what is no usable Ed25519 public key: garbage, a wrong length, an X25519 key, off-curve and small-order points", async () => {
      const x25519 = generateKeyPairSync("x25519").publicKey.export({ format: "pem", type: "spki" }).toString();
      const rawHex = {
        zero: "00".repeat(32), // small order (4): with it a signature of zeros verifies for some messages
        identity: `01${"00".repeat(31)}`, // the neutral element
        order8: "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        offCurve: `02${"00".repeat(31)}`,
        nonCanonical: `ed${"ff".repeat(30)}7f`, // y = p: not a canonical encoding
      };
      const bad = [
        "not a key",
        Buffer.alloc(31, 7).toString("base64"),
        Buffer.alloc(33, 7).toString("base64"),
        x25519,
        ...Object.values(rawHex).map((h) => Buffer.from(h, "hex").toString("base64")),
      ];
      for (const publicKey of bad)
        await problem(await register(session(dave), { name: "bad", publicKey }), 422, "rejected");
      // The all-zero key really is dangerous: node:crypto itself accepts a zero signature under it.
      const zeroKey = createPublicKey({
        key: Buffer.concat([SPKI_PREFIX, Buffer.alloc(32)]),
        format: "der",
        type: "spki",
      });
      expect(verify(null, Buffer.from("x"), zeroKey, Buffer.alloc(64))).toBe(true);
      expect(
        (await json<{ keys: unknown[] }>(await f.call("GET", "/api/me/signing-keys", { token: session(dave) }))).keys,
      ).toEqual([]);
    });

    it("refuses a key registered already, by the same person or another", async () => {
      await problem(await register(session(carol), { name: "again", publicKey: carolKey.pem }), 409, "conflict");
      await problem(
        await register(session(dave), { name: "carol's", publicKey: carolKey.raw.toString("base64") }),
        409,
        "conflict",
      );
    });

    it("refuses agents and access tokens (project-restricted or not): only a signed-in person registers a key", async () => {
      const key = newKey().pem;
      await problem(await register(agentToken, { name: "bot", publicKey: key }), 403, "forbidden");
      for (const restriction of [{ projectId }, { projectId: null }]) {
        const pat = await f.call("POST", "/api/tokens", {
          token: session(dave),
          body: { name: "pat", scopes: ["self", "graph:read"], expiresAt: inOneDay(), ...restriction },
        });
        expect(pat.status).toBe(201);
        const token = (await json<{ token: string }>(pat)).token;
        await problem(await register(token, { name: "via pat", publicKey: key }), 403, "forbidden");
      }
    });

    it("erasing a person revokes their keys; deleting one deletes them", async () => {
      const keysOf = (userId: string): { revokedAt: string | null }[] =>
        f.services.db.tenantReads(acme.tenantId).signingKeys.listForUser(userId);
      const [erased, deleted] = [
        await f.createUser(acme.admin, { role: "member" }, acme.slug),
        await f.createUser(acme.admin, { role: "member" }, acme.slug),
      ];
      for (const person of [erased, deleted])
        expect((await register(session(person), { name: "k", publicKey: newKey().pem })).status).toBe(201);
      expect((await f.call("POST", `/api/users/${erased.id}/erase`, { token: admin })).status).toBe(204);
      expect(keysOf(erased.id)).toEqual([expect.objectContaining({ revokedAt: expect.any(String) as unknown })]);
      expect((await f.call("DELETE", `/api/users/${deleted.id}`, { token: admin })).status).toBe(204);
      expect(keysOf(deleted.id)).toEqual([]);
    });
  });

  describe("plain writes", () => {
    it("cannot approve a security review or release a release: the problem names the signed approval", async () => {
      const { review } = await reviewedChange(session(bob));
      const viaPatch = await problem(
        await patch(session(carol), review, { status: "done", verdict: "approved" }),
        403,
        "signature-required",
      );
      expect(viaPatch.detail).toContain(`/approve`);
      await problem(
        await f.call("POST", `/api/projects/${projectId}/nodes`, {
          token: session(carol),
          body: { type: "review", title: "x", reviewKind: "security", status: "done", verdict: "approved" },
        }),
        403,
        "signature-required",
      );
      // Nor by turning an approved review of another kind into a security review.
      const design = await node(session(carol), {
        type: "review",
        title: "x",
        reviewKind: "design",
        status: "done",
        verdict: "approved",
      });
      await problem(await patch(session(carol), design, { reviewKind: "security" }), 403, "signature-required");
      const release = await node(admin, { type: "release", title: "v1" });
      await problem(await patch(admin, release, { status: "released" }), 403, "signature-required");
      await problem(
        await f.call("POST", `/api/projects/${projectId}/nodes`, {
          token: admin,
          body: { type: "release", title: "v2", status: "released" },
        }),
        403,
        "signature-required",
      );
      // A person may still record the other verdicts of a security review directly.
      expect((await patch(session(carol), review, { status: "done", verdict: "changes_requested" })).status).toBe(200);
    });
  });

  describe("agents", () => {
    it("never hold release:signoff and never set a security review's verdict, over any route", async () => {
      const me = await json<{ scopes: string[] }>(await f.call("GET", "/api/me", { token: agentToken }));
      expect(me.scopes).not.toContain("release:signoff");
      // Setting one on create, setting one on a person's review, clearing one, changing the kind of a reviewed one.
      await problem(
        await f.call("POST", `/api/projects/${projectId}/nodes`, {
          token: agentToken,
          body: { type: "review", title: "x", reviewKind: "security", status: "done", verdict: "rejected" },
        }),
        403,
        "separation-of-duties",
      );
      const { review } = await reviewedChange(session(bob));
      await problem(
        await patch(agentToken, review, { status: "done", verdict: "changes_requested" }),
        403,
        "separation-of-duties",
      );
      const decided = await json<{ node: NodeBody }>(
        await patch(session(carol), review, { status: "done", verdict: "changes_requested" }),
      );
      await problem(
        await patch(agentToken, decided.node, { status: "open", verdict: null }),
        403,
        "separation-of-duties",
      );
      await problem(await patch(agentToken, decided.node, { reviewKind: "code" }), 403, "separation-of-duties");
      // The signed route is closed to them by scope, before any signature is looked at.
      const { digest } = await approval(agentToken, review.id);
      await problem(
        await approve(agentToken, review.id, {
          keyId: carolKey.keyId,
          signature: signDigest(carolKey, digest),
          digest,
        }),
        403,
        "forbidden",
      );
      // The control: an agent may record a code review's verdict, and edit a security review's text.
      const code = await node(agentToken, {
        type: "review",
        title: "Lint",
        reviewKind: "code",
        status: "done",
        verdict: "approved",
      });
      expect(code.verdict).toBe("approved");
      expect((await patch(agentToken, decided.node, { body: "notes" })).status).toBe(200);
    });

    it("asking for release:signoff in an agent's token is refused", async () => {
      const res = await f.call("POST", `/api/users/${agentId}/tokens`, {
        token: admin,
        body: { name: "bot", scopes: ["self", "graph:write", "release:signoff"], projectId, expiresAt: inOneDay() },
      });
      expect((await problem(res, 422, "rejected")).detail).toContain("release:signoff");
    });

    it("an agent token whose stored row was edited to carry release:signoff still has none (tamper)", async () => {
      const issued = await f.call("POST", `/api/users/${agentId}/tokens`, {
        token: admin,
        body: { name: "tampered", scopes: ["self", "graph:read", "graph:write"], projectId, expiresAt: inOneDay() },
      });
      const { token, id } = await json<{ token: string; id: string }>(issued);
      const raw = new BetterSqlite3(join(f.dataDir, "vecto.db"));
      try {
        raw
          .prepare("UPDATE personal_access_tokens SET scopes = ? WHERE id = ?")
          .run("self graph:read graph:write release:signoff", id);
      } finally {
        raw.close();
      }
      const me = await json<{ scopes: string[] }>(await f.call("GET", "/api/me", { token }));
      expect(me.scopes.sort()).toEqual(["graph:read", "graph:write", "self"]);
      const { review } = await reviewedChange(session(bob));
      const { digest } = await approval(token, review.id);
      await problem(
        await approve(token, review.id, { keyId: carolKey.keyId, signature: signDigest(carolKey, digest), digest }),
        403,
        "forbidden",
      );
    });
  });

  describe("signed approval of a security review", () => {
    it("the author of the change under review cannot approve it, even with a valid signature of their own key", async () => {
      const { review } = await reviewedChange(session(bob));
      const { digest } = await approval(session(bob), review.id);
      const res = await approve(session(bob), review.id, {
        keyId: bobKey.keyId,
        signature: signDigest(bobKey, digest),
        digest,
      });
      expect((await problem(res, 403, "separation-of-duties")).detail).toContain("authored");
    });

    it("nor can the author of a release that ships the change under review", async () => {
      const adminKey = newKey();
      expect((await register(admin, { name: "admin", publicKey: adminKey.pem })).status).toBe(201);
      const { change, review } = await reviewedChange(session(bob));
      const release = await node(admin, { type: "release", title: "v3" });
      await edge(admin, "ships_in", change.id, release.id);
      const { digest } = await approval(admin, review.id);
      await problem(
        await approve(admin, review.id, { keyId: adminKey.keyId, signature: signDigest(adminKey, digest), digest }),
        403,
        "separation-of-duties",
      );
    });

    it("an agent-authored change is approved by a person, never by its agent", async () => {
      const { review } = await reviewedChange(agentToken);
      const { digest } = await approval(session(carol), review.id);
      await problem(
        await approve(agentToken, review.id, {
          keyId: carolKey.keyId,
          signature: signDigest(carolKey, digest),
          digest,
        }),
        403,
        "forbidden",
      );
      const res = await approve(session(carol), review.id, {
        keyId: carolKey.keyId,
        signature: signDigest(carolKey, digest),
        digest,
      });
      expect(res.status).toBe(200);
    });

    it("refuses a person without a key, another person's key, a wrong signature and a revoked key", async () => {
      const { review } = await reviewedChange(session(bob));
      const { digest } = await approval(session(dave), review.id);
      const carolSigned = signDigest(carolKey, digest);
      // Dave has no key: carol's key id and carol's valid signature do not make him an approver.
      await problem(
        await approve(session(dave), review.id, { keyId: carolKey.keyId, signature: carolSigned, digest }),
        422,
        "rejected",
      );
      await problem(
        await approve(session(dave), review.id, { keyId: "0123456789abcdef", signature: carolSigned, digest }),
        422,
        "rejected",
      );
      // Carol's own key, but a signature over other bytes, or by another private key.
      const otherBytes = sign(null, Buffer.from("something else"), carolKey.privateKey).toString("base64");
      await problem(
        await approve(session(carol), review.id, { keyId: carolKey.keyId, signature: otherBytes, digest }),
        422,
        "rejected",
      );
      await problem(
        await approve(session(carol), review.id, {
          keyId: carolKey.keyId,
          signature: signDigest(bobKey, digest),
          digest,
        }),
        422,
        "rejected",
      );
      // A revoked key verifies nothing afterwards.
      const spare = newKey();
      expect((await register(session(carol), { name: "spare", publicKey: spare.pem })).status).toBe(201);
      expect((await f.call("DELETE", `/api/me/signing-keys/${spare.keyId}`, { token: session(carol) })).status).toBe(
        204,
      );
      const revoked = await approve(session(carol), review.id, {
        keyId: spare.keyId,
        signature: signDigest(spare, digest),
        digest,
      });
      expect((await problem(revoked, 422, "rejected")).detail).toContain("revoked");
      await problem(
        await f.call("DELETE", `/api/me/signing-keys/${spare.keyId}`, { token: session(carol) }),
        404,
        "not-found",
      );
      expect((await auditPayloads("auth.signing_key_revoked")).map((p) => p.keyId)).toContain(spare.keyId);
      const after = await json<{ node: NodeBody }>(await f.call("GET", `/api/nodes/${review.id}`, { token: admin }));
      expect(after.node).toMatchObject({ status: "open", verdict: null, version: review.version });
    });

    it("a signature over a stale digest fails once a subject changed; the fresh one approves", async () => {
      const { change, review } = await reviewedChange(session(bob));
      const before = await approval(session(carol), review.id);
      const signedBefore = signDigest(carolKey, before.digest);
      expect((await patch(session(bob), change, { body: "and the refresh tokens too" })).status).toBe(200);
      const now = await approval(session(carol), review.id);
      expect(now.digest).not.toBe(before.digest);
      await problem(
        await approve(session(carol), review.id, {
          keyId: carolKey.keyId,
          signature: signedBefore,
          digest: before.digest,
        }),
        412,
        "precondition-failed",
      );
      await problem(
        await approve(session(carol), review.id, {
          keyId: carolKey.keyId,
          signature: signedBefore,
          digest: now.digest,
        }),
        422,
        "rejected",
      );
      const res = await approve(session(carol), review.id, {
        keyId: carolKey.keyId,
        signature: signDigest(carolKey, now.digest),
        digest: now.digest,
      });
      expect(res.status).toBe(200);
    });

    it("the right signature approves, and the audit event gives an auditor what re-verifies it offline", async () => {
      const { change, review, link } = await reviewedChange(session(bob));
      const { digest, canonical, purpose } = await approval(session(carol), review.id);
      expect(purpose).toBe("vecto.security-review.approve");
      expect(JSON.parse(canonical)).toEqual({
        purpose,
        tenantId: acme.tenantId,
        projectId,
        nodeId: review.id,
        version: review.version,
        verdict: "approved",
        subjects: [{ id: change.id, version: change.version }],
      });
      expect(createHash("sha256").update(canonical).digest("hex")).toBe(digest);
      const signature = signDigest(carolKey, digest);
      const res = await approve(session(carol), review.id, { keyId: carolKey.keyId, signature, digest });
      expect(res.status).toBe(200);
      const approved = (await json<{ node: NodeBody }>(res)).node;
      expect(approved).toMatchObject({ status: "done", verdict: "approved", version: review.version + 1 });
      expect(res.headers.get("etag")).toBe(`"${approved.version}"`);
      await problem(
        await approve(session(carol), review.id, { keyId: carolKey.keyId, signature, digest }),
        409,
        "conflict",
      );

      const event = (await auditPayloads("review.approved")).find((p) => p.nodeId === review.id);
      expect(event).toEqual({
        nodeId: review.id,
        projectId,
        version: approved.version,
        approverId: carol.id,
        keyId: carolKey.keyId,
        publicKey: carolKey.raw.toString("base64"),
        signature,
        digest,
        canonical,
      });
      // Offline: the digest is SHA-256 of the statement, and the signature verifies with the recorded key.
      const e = event as Record<string, string>;
      expect(
        createHash("sha256")
          .update(e.canonical ?? "")
          .digest("hex"),
      ).toBe(e.digest);
      const key = createPublicKey({
        key: Buffer.concat([SPKI_PREFIX, Buffer.from(e.publicKey ?? "", "base64")]),
        format: "der",
        type: "spki",
      });
      expect(verify(null, Buffer.from(e.digest ?? "", "hex"), key, Buffer.from(e.signature ?? "", "base64"))).toBe(
        true,
      );
      // Without audit:security the payload is redacted.
      expect(await auditPayloads("review.approved", admin)).toContainEqual({ redacted: true });
      // What the approval covers stays as signed: no subject joins or leaves it afterwards.
      const later = await node(session(bob), { type: "task", title: "Slipped in after the approval" });
      await problem(
        await f.call("POST", `/api/projects/${projectId}/edges`, {
          token: session(bob),
          body: { type: "reviewed_in", from: later.id, to: review.id },
        }),
        409,
        "conflict",
      );
      await problem(await f.call("DELETE", `/api/edges/${link}`, { token: session(carol) }), 409, "conflict");
    });
  });

  describe("what cannot be signed off", () => {
    it("a review with no subjects, an archived review, a review of another kind", async () => {
      const bare = await node(session(carol), { type: "review", title: "Nothing joined", reviewKind: "security" });
      const get = (id: string): Promise<Response> =>
        f.call("GET", `/api/nodes/${id}/approval`, { token: session(carol) });
      expect((await problem(await get(bare.id), 422, "rejected")).detail).toContain("nothing to approve");
      const { review } = await reviewedChange(session(bob));
      expect((await f.call("DELETE", `/api/nodes/${review.id}`, { token: session(carol) })).status).toBe(200);
      expect((await problem(await get(review.id), 422, "rejected")).detail).toContain("archived");
      const design = await node(session(carol), { type: "review", title: "Design", reviewKind: "design" });
      await problem(await get(design.id), 422, "rejected");
    });
  });

  describe("release sign-off", () => {
    it("releasing needs the signed approval over the release and what ships in it", async () => {
      const task = await node(session(bob), { type: "task", title: "Build the SEA" });
      const release = await node(admin, { type: "release", title: "v4" });
      // Nothing ships in it yet: there is nothing to sign off.
      await problem(
        await f.call("GET", `/api/nodes/${release.id}/approval`, { token: session(carol) }),
        422,
        "rejected",
      );
      await edge(admin, "ships_in", task.id, release.id);
      const { digest, canonical, purpose } = await approval(session(carol), release.id);
      expect(purpose).toBe("vecto.release.sign-off");
      expect(JSON.parse(canonical)).toMatchObject({
        status: "released",
        subjects: [{ id: task.id, version: task.version }],
      });
      await problem(
        await approve(session(dave), release.id, {
          keyId: carolKey.keyId,
          signature: signDigest(carolKey, digest),
          digest,
        }),
        422,
        "rejected",
      );
      const res = await approve(session(carol), release.id, {
        keyId: carolKey.keyId,
        signature: signDigest(carolKey, digest),
        digest,
      });
      expect(res.status).toBe(200);
      expect((await json<{ node: NodeBody }>(res)).node.status).toBe("released");
      const event = (await auditPayloads("release.signed_off")).find((p) => p.nodeId === release.id);
      expect(event).toMatchObject({ approverId: carol.id, keyId: carolKey.keyId, digest, canonical });
      const late = await node(session(bob), { type: "task", title: "Not in v4" });
      await problem(
        await f.call("POST", `/api/projects/${projectId}/edges`, {
          token: session(bob),
          body: { type: "ships_in", from: late.id, to: release.id },
        }),
        409,
        "conflict",
      );
    });
  });

  describe("authorship", () => {
    it("nodes and edges say whether a person or an agent made them, in the API and in both exports", async () => {
      const mine = await node(session(bob), { type: "idea", title: "Keys per tenant" });
      const theirs = await node(agentToken, { type: "decision", title: "Use HKDF" });
      const res = await f.call("POST", `/api/projects/${projectId}/edges`, {
        token: agentToken,
        body: { type: "originates_from", from: theirs.id, to: mine.id },
      });
      const agentEdge = (await json<{ edge: { id: string; createdBy: string; createdByType: string } }>(res)).edge;
      expect(agentEdge).toMatchObject({ createdBy: agentId, createdByType: "agent" });
      const exported = await f.call("GET", `/api/tenants/${acme.tenantId}/export?format=json`, { token: admin });
      expect(exported.status).toBe(200);
      const doc = await json<{
        projects: { nodes: { id: string; author: unknown }[]; edges: { id: string; createdByType: string }[] }[];
      }>(exported);
      const project = doc.projects.find((p) => p.nodes.some((n) => n.id === mine.id));
      expect(project?.nodes.find((n) => n.id === theirs.id)?.author).toEqual({ type: "agent", id: agentId });
      expect(project?.nodes.find((n) => n.id === mine.id)?.author).toEqual({ type: "human", id: bob.id });
      expect(project?.edges.find((e) => e.id === agentEdge.id)?.createdByType).toBe("agent");
      const tar = await f.call("GET", `/api/tenants/${acme.tenantId}/export?format=markdown`, { token: admin });
      const files = await untar(Buffer.from(await tar.arrayBuffer()));
      const decision = files.get(`vecto-export/${projectId}/decision/${theirs.id}.md`) ?? "";
      expect(decision).toMatch(new RegExp(`^author: "?agent:${agentId}"?$`, "m"));
      expect(decision).toContain(`(by agent:${agentId})`);
      const idea = files.get(`vecto-export/${projectId}/idea/${mine.id}.md`) ?? "";
      expect(idea).toMatch(new RegExp(`^author: "?human:${bob.id}"?$`, "m"));
    });
  });
});
