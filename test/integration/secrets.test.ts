/**
 * Tenant secrets, end to end through the real app (identity fixture, real SQLite file, real
 * master key): write-only API, rotation, who may, tenant isolation, and that no value ever
 * leaves: not in a response (every response of this file is recorded and searched at the end),
 * the audit trail, the GDPR export, or the bytes on disk. The log is checked in logging.test.ts.
 */
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DecryptError } from "../../src/crypto/errors.js";
import type { TenantDb } from "../../src/db/tenant-db.js";
import { DomainError } from "../../src/errors.js";
import { useSecret } from "../../src/secrets/secrets.js";
import { untar } from "../helpers.js";
import { identityFixture, type Account, type Fixture, type TenantAccount } from "../identity-fixture.js";

/** Distinctive values: finding one anywhere it must not be is unambiguous. */
const marker = (label: string): string => `sk-${label}-PLAINTEXT-${randomUUID()}`;
const VALUE_1 = marker("one");
const VALUE_2 = marker("two");
const VALUE_3 = marker("three");
const ANTHROPIC = marker("anthropic");
const OTHER_TENANT_VALUE = marker("other-tenant");
const REFUSED = marker("refused");
const DOOMED = marker("doomed");
const ALL_VALUES = [VALUE_1, VALUE_2, VALUE_3, ANTHROPIC, OTHER_TENANT_VALUE, REFUSED, DOOMED];
/** The part of every value above that no legitimate output contains. */
const PLAINTEXT_MARK = "-PLAINTEXT-";

const METADATA_KEYS = ["createdAt", "createdBy", "description", "id", "name", "rotatedAt", "rotatedBy", "version"];

interface SecretView {
  id: string;
  name: string;
  description: string | null;
  version: number;
  createdBy: string;
  createdAt: string;
  rotatedBy: string;
  rotatedAt: string;
}

interface AuditLine {
  event: string;
  sensitivity: string;
  payload: Record<string, unknown>;
  redacted?: boolean;
}

const inOneDay = (): string => new Date(Date.now() + 86_400_000).toISOString();

describe("tenant secrets", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let other: TenantAccount;
  let member: Account;
  let viewer: Account;
  let auditor: Account;
  let agentToken: string;
  let acmeDb: TenantDb;
  let otherDb: TenantDb;
  /** Status line, headers and body of every response this file received. */
  const transcript: string[] = [];

  const admin = (): string => acme.admin.tokens.accessToken;
  const dbFile = (): string => join(f.dataDir, "vecto.db");

  async function send(
    method: string,
    path: string,
    token: string | undefined,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Response> {
    const res = await f.call(method, path, {
      ...(token === undefined ? {} : { token }),
      ...(body === undefined ? {} : { body }),
      ...(headers ? { headers } : {}),
    });
    transcript.push(`${res.status} ${JSON.stringify([...res.headers.entries()])} ${await res.clone().text()}`);
    return res;
  }

  const create = (token: string, body: unknown): Promise<Response> => send("POST", "/api/secrets", token, body);

  async function list(token = admin()): Promise<SecretView[]> {
    const res = await send("GET", "/api/secrets", token);
    expect(res.status, await res.clone().text()).toBe(200);
    return ((await res.json()) as { secrets: SecretView[] }).secrets;
  }

  async function tenantDbOf(token: string): Promise<TenantDb> {
    const principal = await f.services.identity.authenticator.authenticate(token);
    if (!principal.tenantScope) throw new Error("not a tenant account");
    return f.services.db.forTenant(principal.tenantScope);
  }

  const reveal = (tenantDb: TenantDb, name: string): Promise<string> =>
    useSecret(f.services.graph, tenantDb, name, (value) => Promise.resolve(value));

  function rawValueEnc(tenantId: string, name: string): Buffer | undefined {
    const raw = new BetterSqlite3(dbFile(), { readonly: true });
    try {
      return (
        raw.prepare("SELECT value_enc FROM tenant_secrets WHERE tenant_id = ? AND name = ?").get(tenantId, name) as
          { value_enc: Buffer } | undefined
      )?.value_enc;
    } finally {
      raw.close();
    }
  }

  function writeRawValueEnc(tenantId: string, name: string, valueEnc: Buffer): void {
    const raw = new BetterSqlite3(dbFile());
    try {
      raw.pragma("busy_timeout = 5000");
      expect(
        raw
          .prepare("UPDATE tenant_secrets SET value_enc = ? WHERE tenant_id = ? AND name = ?")
          .run(valueEnc, tenantId, name).changes,
      ).toBe(1);
    } finally {
      raw.close();
    }
  }

  async function auditLines(token: string, query = ""): Promise<{ text: string; lines: AuditLine[] }> {
    const res = await send("GET", `/api/audit${query}`, token);
    expect(res.status, await res.clone().text()).toBe(200);
    const text = await res.text();
    return {
      text,
      lines: text
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as AuditLine),
    };
  }

  async function issuePat(owner: Account, scopes: string[], projectId: string | null = null): Promise<Response> {
    return send("POST", "/api/tokens", owner.tokens.accessToken, {
      name: "secrets-test",
      scopes,
      projectId,
      expiresAt: inOneDay(),
    });
  }

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("secrets-acme");
    other = await f.createTenant("secrets-other");
    member = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    viewer = await f.createUser(acme.admin, { role: "viewer" }, acme.slug);
    auditor = await f.createUser(acme.admin, { role: "viewer", auditor: true }, acme.slug);
    const agent = await f.createUser(acme.admin, { role: "member", kind: "agent" }, acme.slug);
    const project = (
      (await (await send("POST", "/api/projects", admin(), { name: "Agents' home" })).json()) as {
        project: { id: string };
      }
    ).project.id;
    expect(
      (await send("PUT", `/api/projects/${project}/members/${agent.id}`, admin(), { role: "editor" })).status,
    ).toBe(200);
    // An agent's token is always project-restricted, so it cannot even be asked to carry secrets:manage.
    const refused = await send("POST", `/api/users/${agent.id}/tokens`, admin(), {
      name: "agent",
      scopes: ["self", "graph:read", "secrets:manage"],
      projectId: project,
      expiresAt: inOneDay(),
    });
    expect(refused.status).toBe(422);
    const issued = await send("POST", `/api/users/${agent.id}/tokens`, admin(), {
      name: "agent",
      scopes: ["self", "graph:read", "graph:write", "ai:invoke"],
      projectId: project,
      expiresAt: inOneDay(),
    });
    expect(issued.status).toBe(201);
    agentToken = ((await issued.json()) as { token: string }).token;
    acmeDb = await tenantDbOf(admin());
    otherDb = await tenantDbOf(other.admin.tokens.accessToken);
  });
  afterAll(() => f.close());

  it("creates a secret: 201 with metadata only (no value, no hint, no length) and its version as ETag", async () => {
    const res = await create(admin(), { name: "openai.api-key", value: VALUE_1, description: "Production OpenAI key" });
    expect(res.status, await res.clone().text()).toBe(201);
    expect(res.headers.get("etag")).toBe('"1"');
    const { secret } = (await res.json()) as { secret: SecretView };
    expect(Object.keys(secret).sort()).toEqual(METADATA_KEYS);
    expect(secret).toMatchObject({
      name: "openai.api-key",
      description: "Production OpenAI key",
      version: 1,
      createdBy: acme.admin.id,
      rotatedBy: acme.admin.id,
    });
    expect(await reveal(acmeDb, "openai.api-key")).toBe(VALUE_1);

    const second = await create(admin(), { name: "anthropic_key", value: ANTHROPIC });
    expect(second.status).toBe(201);
    expect(((await second.json()) as { secret: SecretView }).secret.description).toBeNull();
  });

  it("lists metadata only, by name, paginated", async () => {
    const secrets = await list();
    expect(secrets.map((s) => s.name)).toEqual(["anthropic_key", "openai.api-key"]);
    for (const s of secrets) expect(Object.keys(s).sort()).toEqual(METADATA_KEYS);
    const page = await send("GET", "/api/secrets?limit=1&after=anthropic_key", admin());
    expect(((await page.json()) as { secrets: SecretView[] }).secrets.map((s) => s.name)).toEqual(["openai.api-key"]);
    expect((await send("GET", "/api/secrets?limit=0", admin())).status).toBe(400);
  });

  it("rotates: new ciphertext under the same id, version + 1, and useSecret yields the new value", async () => {
    const [before] = (await list()).filter((s) => s.name === "openai.api-key");
    const sealedBefore = rawValueEnc(acme.tenantId, "openai.api-key");
    const res = await send("PUT", "/api/secrets/openai.api-key", admin(), { value: VALUE_2 });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get("etag")).toBe('"2"');
    const { secret } = (await res.json()) as { secret: SecretView };
    expect(Object.keys(secret).sort()).toEqual(METADATA_KEYS);
    expect(secret).toMatchObject({
      id: before?.id,
      version: 2,
      description: "Production OpenAI key",
      createdAt: before?.createdAt,
    });
    const sealedAfter = rawValueEnc(acme.tenantId, "openai.api-key");
    expect(sealedAfter).toBeDefined();
    expect(sealedAfter?.equals(sealedBefore ?? Buffer.alloc(0))).toBe(false);
    expect(await reveal(acmeDb, "openai.api-key")).toBe(VALUE_2);
  });

  it("honours an optional If-Match: a stale version is 412 and changes nothing, the current one rotates", async () => {
    const stale = await send("PUT", "/api/secrets/openai.api-key", admin(), { value: REFUSED }, { "If-Match": '"1"' });
    expect(stale.status).toBe(412);
    expect(stale.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await reveal(acmeDb, "openai.api-key")).toBe(VALUE_2);
    const current = await send(
      "PUT",
      "/api/secrets/openai.api-key",
      admin(),
      { value: VALUE_3, description: "Rotated after the offboarding" },
      { "If-Match": '"2"' },
    );
    expect(current.status).toBe(200);
    expect(((await current.json()) as { secret: SecretView }).secret).toMatchObject({
      version: 3,
      description: "Rotated after the offboarding",
    });
    expect(await reveal(acmeDb, "openai.api-key")).toBe(VALUE_3);
  });

  it("rotating or deleting a missing (or impossible) name is 404", async () => {
    for (const name of ["no-such-secret", "UPPER", "-leading", "a".repeat(64), "%20"]) {
      const put = await send("PUT", `/api/secrets/${name}`, admin(), { value: REFUSED });
      expect(put.status, name).toBe(404);
      expect(put.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect((await send("DELETE", `/api/secrets/${name}`, admin())).status, name).toBe(404);
    }
    await expect(reveal(acmeDb, "no-such-secret")).rejects.toThrow(DomainError);
  });

  it("refuses bad names, empty, oversized and non-text values with 422 problem+json, and writes nothing", async () => {
    const namesBefore = JSON.stringify(await list());
    const eventsBefore = (await auditLines(auditor.tokens.accessToken, "?event=secret.created")).lines.length;
    const badNames = ["", "UPPER", "-leading", ".dot", "has space", "sl/ash", "ünicode", "a".repeat(64), "x\u0000y"];
    const badValues: unknown[] = [
      "",
      `${REFUSED}${"z".repeat(8192)}`,
      `${REFUSED}${"é".repeat(4090)}`,
      `${REFUSED}\u0000tail`,
      `${REFUSED}\ud800`,
      42,
      { nested: REFUSED },
      null,
    ];
    const attempts = [
      ...badNames.map((name) => ({ name, value: REFUSED })),
      ...badValues.map((value) => ({ name: "refused-secret", value })),
      { name: "refused-secret" },
      { value: REFUSED },
      { name: "refused-secret", value: REFUSED, smuggled: true },
      { name: "refused-secret", value: REFUSED, description: "d".repeat(501) },
    ];
    for (const body of attempts) {
      const res = await create(admin(), body);
      const text = await res.text();
      expect(res.status, `${JSON.stringify(body).slice(0, 80)} -> ${text}`).toBe(422);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(text).not.toContain(PLAINTEXT_MARK);
    }
    // 8192 bytes exactly is fine; one byte more is not (the bound is in UTF-8 bytes, not characters).
    const atLimit = await create(admin(), { name: "at-the-limit", value: "é".repeat(4096) });
    expect(atLimit.status).toBe(201);
    expect((await create(admin(), { name: "over-the-limit", value: `${"é".repeat(4096)}a` })).status).toBe(422);
    expect((await send("DELETE", "/api/secrets/at-the-limit", admin())).status).toBe(204);
    expect(JSON.stringify(await list())).toBe(namesBefore);
    expect((await auditLines(auditor.tokens.accessToken, "?event=secret.created")).lines.length).toBe(eventsBefore + 1);
    // Rotation validates the same way.
    expect((await send("PUT", "/api/secrets/openai.api-key", admin(), { value: "" })).status).toBe(422);
    expect(await reveal(acmeDb, "openai.api-key")).toBe(VALUE_3);
  });

  it("a duplicate name is 409 and leaves the stored value alone", async () => {
    const res = await create(admin(), { name: "openai.api-key", value: REFUSED });
    expect(res.status).toBe(409);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await res.text()).not.toContain(PLAINTEXT_MARK);
    expect(await reveal(acmeDb, "openai.api-key")).toBe(VALUE_3);
  });

  it("only a tenant admin manages secrets: member, viewer, auditor, agent, platform root and a token without secrets:manage get 403", async () => {
    const limitedPat = await issuePat(acme.admin, ["self", "tenant:admin", "users:manage"]);
    expect(limitedPat.status).toBe(201);
    const limited = ((await limitedPat.json()) as { token: string }).token;
    const denied: [string, string][] = [
      ["member", member.tokens.accessToken],
      ["viewer", viewer.tokens.accessToken],
      ["auditor", auditor.tokens.accessToken],
      ["agent", agentToken],
      ["platform root", f.root.tokens.accessToken],
      ["admin token without secrets:manage", limited],
    ];
    for (const [who, token] of denied) {
      expect((await send("GET", "/api/secrets", token)).status, who).toBe(403);
      expect((await create(token, { name: `by-${who.replace(/\W/g, "-")}`, value: REFUSED })).status, who).toBe(403);
      expect((await send("PUT", "/api/secrets/openai.api-key", token, { value: REFUSED })).status, who).toBe(403);
      expect((await send("DELETE", "/api/secrets/openai.api-key", token)).status, who).toBe(403);
    }
    expect((await send("GET", "/api/secrets", undefined)).status).toBe(401);
    // A project-restricted token cannot carry the scope at all.
    const project = (
      (await (await send("POST", "/api/projects", admin(), { name: "Restricted" })).json()) as {
        project: { id: string };
      }
    ).project.id;
    expect((await issuePat(acme.admin, ["self", "secrets:manage"], project)).status).toBe(422);
    // A person's tenant-wide token that was given the scope works (automated rotation by the admin's own tooling).
    const automation = await issuePat(acme.admin, ["self", "secrets:manage"]);
    const token = ((await automation.json()) as { token: string }).token;
    expect((await send("GET", "/api/secrets", token)).status).toBe(200);
    expect(await reveal(acmeDb, "openai.api-key")).toBe(VALUE_3);
  });

  it("another tenant sees none of these secrets, reaches none by name, and keeps its own of the same name apart", async () => {
    const theirs = other.admin.tokens.accessToken;
    expect(await list(theirs)).toEqual([]);
    for (const name of ["openai.api-key", "anthropic_key"]) {
      const res = await send("PUT", `/api/secrets/${name}`, theirs, { value: REFUSED });
      expect(res.status).toBe(404);
      expect((await send("DELETE", `/api/secrets/${name}`, theirs)).status).toBe(404);
    }
    expect((await create(theirs, { name: "openai.api-key", value: OTHER_TENANT_VALUE })).status).toBe(201);
    expect(await reveal(otherDb, "openai.api-key")).toBe(OTHER_TENANT_VALUE);
    expect(await reveal(acmeDb, "openai.api-key")).toBe(VALUE_3);
    expect((await list()).map((s) => s.name)).toEqual(["anthropic_key", "openai.api-key"]);
  });

  it("a ciphertext moved to another row, column or tenant fails to open", async () => {
    const original = rawValueEnc(acme.tenantId, "anthropic_key") as Buffer;
    const fromOtherRow = rawValueEnc(acme.tenantId, "openai.api-key") as Buffer;
    const fromOtherTenant = rawValueEnc(other.tenantId, "openai.api-key") as Buffer;
    const raw = new BetterSqlite3(dbFile(), { readonly: true });
    const description = (
      raw
        .prepare("SELECT description_enc FROM tenant_secrets WHERE tenant_id = ? AND name = ?")
        .get(acme.tenantId, "anthropic_key") as { description_enc: Buffer }
    ).description_enc;
    raw.close();
    for (const moved of [fromOtherRow, fromOtherTenant, description]) {
      writeRawValueEnc(acme.tenantId, "anthropic_key", moved);
      await expect(reveal(acmeDb, "anthropic_key")).rejects.toThrow(DecryptError);
    }
    writeRawValueEnc(acme.tenantId, "anthropic_key", original);
    expect(await reveal(acmeDb, "anthropic_key")).toBe(ANTHROPIC);
  });

  it("useSecret hands the value to the callback only, and returns what the callback returns", async () => {
    let seen = "";
    const result = await useSecret(f.services.graph, acmeDb, "anthropic_key", (value) => {
      seen = value;
      return Promise.resolve({ authorized: value.startsWith("sk-") });
    });
    expect(result).toEqual({ authorized: true });
    expect(seen).toBe(ANTHROPIC);
    await expect(
      useSecret(f.services.graph, acmeDb, "anthropic_key", () => Promise.reject(new Error("provider down"))),
    ).rejects.toThrow("provider down");
  });

  it("audits create, rotate and delete with name and version only, as security events in the tenant's log", async () => {
    expect((await create(admin(), { name: "short-lived", value: DOOMED })).status).toBe(201);
    expect((await send("DELETE", "/api/secrets/short-lived", admin())).status).toBe(204);
    expect((await send("DELETE", "/api/secrets/short-lived", admin())).status).toBe(404);
    await expect(reveal(acmeDb, "short-lived")).rejects.toThrow(DomainError);

    const full = await auditLines(auditor.tokens.accessToken);
    const secretEvents = full.lines.filter((l) => l.event.startsWith("secret."));
    expect(secretEvents.map((l) => `${l.event} ${String(l.payload.name)} v${String(l.payload.version)}`)).toEqual([
      "secret.created openai.api-key v1",
      "secret.created anthropic_key v1",
      "secret.rotated openai.api-key v2",
      "secret.rotated openai.api-key v3",
      "secret.created at-the-limit v1",
      "secret.deleted at-the-limit v1",
      "secret.created short-lived v1",
      "secret.deleted short-lived v1",
    ]);
    for (const line of secretEvents) {
      expect(line.sensitivity).toBe("security");
      expect(Object.keys(line.payload).sort()).toEqual(["name", "secretId", "version"]);
    }
    expect(full.text).not.toContain(PLAINTEXT_MARK);
    // Without audit:security the payloads are redacted; the admin still sees that something happened.
    const redacted = (await auditLines(admin(), "?event=secret.rotated")).lines;
    expect(redacted.map((l) => l.payload)).toEqual([{ redacted: true }, { redacted: true }]);
    // The other tenant's log holds its own secret event only.
    const theirs = (await auditLines(other.admin.tokens.accessToken, "?event=secret.created")).lines;
    expect(theirs).toHaveLength(1);
  });

  it("the GDPR export lists names and metadata, never values", async () => {
    const json = await send("GET", `/api/tenants/${acme.tenantId}/export`, admin());
    expect(json.status).toBe(200);
    const doc = (await json.json()) as { secrets: SecretView[] };
    expect(doc.secrets.map((s) => s.name)).toEqual(["anthropic_key", "openai.api-key"]);
    for (const s of doc.secrets) expect(Object.keys(s).sort()).toEqual(METADATA_KEYS);

    const tar = await send("GET", `/api/tenants/${acme.tenantId}/export?format=markdown`, admin());
    expect(tar.status).toBe(200);
    const files = await untar(Buffer.from(await tar.arrayBuffer()));
    const secretsMd = files.get("vecto-export/secrets.md") ?? "";
    expect(secretsMd).toContain("| openai\\.api\\-key | Rotated after the offboarding | 3 |");
    for (const text of files.values()) expect(text).not.toContain(PLAINTEXT_MARK);
  });

  it("the published contract: value is writeOnly in requests and has no place in any response schema", async () => {
    const doc = (await (await send("GET", "/api/openapi.json", undefined)).json()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            requestBody?: {
              content: Record<string, { schema: { properties: Record<string, { writeOnly?: boolean }> } }>;
            };
            responses: Record<string, unknown>;
          }
        >
      >;
    };
    const ops = [
      ...Object.values(doc.paths["/api/secrets"] ?? {}),
      ...Object.values(doc.paths["/api/secrets/{name}"] ?? {}),
    ];
    expect(ops).toHaveLength(4);
    for (const op of ops) {
      expect(JSON.stringify(op.responses)).not.toMatch(/"value"/);
      const value = op.requestBody?.content["application/json"]?.schema.properties.value;
      if (op.requestBody) expect(value?.writeOnly).toBe(true);
    }
    const created = (doc.paths["/api/secrets"]?.post?.responses["201"] ?? {}) as {
      content: Record<
        string,
        { schema: { properties: { secret: { properties: Record<string, unknown>; additionalProperties: boolean } } } }
      >;
    };
    const shape = created.content["application/json"]?.schema.properties.secret;
    expect(Object.keys(shape?.properties ?? {}).sort()).toEqual(METADATA_KEYS);
    expect(shape?.additionalProperties).toBe(false);
  });

  it("no plaintext value is in the database, its WAL or the keystore, before or after a checkpoint", () => {
    const scan = (when: string): void => {
      for (const file of readdirSync(f.dataDir, { recursive: true, withFileTypes: true })) {
        const path = join(file.parentPath, file.name);
        if (!file.isFile() || statSync(path).size === 0) continue;
        const bytes = readFileSync(path);
        for (const value of ALL_VALUES)
          expect(bytes.includes(Buffer.from(value, "utf8")), `${when}: ${path} holds a secret value`).toBe(false);
        expect(bytes.includes(Buffer.from(PLAINTEXT_MARK, "utf8")), `${when}: ${path}`).toBe(false);
      }
    };
    expect(readdirSync(f.dataDir)).toEqual(expect.arrayContaining(["vecto.db", "vecto.db-wal"]));
    scan("before checkpoint");
    f.services.db.checkpoint();
    scan("after checkpoint");
    // The scan reads real bytes: the names, which are plaintext identifiers, are there to be found.
    expect(readFileSync(dbFile()).includes(Buffer.from("anthropic_key"))).toBe(true);
  });

  it("erasing the tenant takes its secrets with it", async () => {
    const doomed = await f.createTenant("secrets-doomed");
    expect((await create(doomed.admin.tokens.accessToken, { name: "to-be-erased", value: DOOMED })).status).toBe(201);
    expect(rawValueEnc(doomed.tenantId, "to-be-erased")).toBeDefined();
    const erased = await send("POST", `/api/tenants/${doomed.tenantId}/erase`, f.root.tokens.accessToken, {
      confirm: "secrets-doomed",
    });
    expect(erased.status).toBe(200);
    expect(rawValueEnc(doomed.tenantId, "to-be-erased")).toBeUndefined();
  });

  it("no response of any route in this file carried a secret value", () => {
    expect(transcript.length).toBeGreaterThan(50);
    // The transcript holds bodies: the names (metadata) are in it, the values are not.
    expect(transcript.some((entry) => entry.includes('"name":"anthropic_key"'))).toBe(true);
    for (const entry of transcript) {
      expect(entry.includes(PLAINTEXT_MARK), entry.slice(0, 200)).toBe(false);
      for (const value of ALL_VALUES) expect(entry.includes(value)).toBe(false);
    }
  });
});
