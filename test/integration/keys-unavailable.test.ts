/**
 * Fail closed: when a tenant's data key cannot be unwrapped (its master key is not the one
 * loaded, as after losing an old master key; or its stored wrap does not open), requests get 503
 * problem+json keys-unavailable and nothing is written; other tenants are unaffected. Every read
 * route is tried (from the route registry), the export before its first byte; an export whose key
 * goes away midway is cut off, which the client sees.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { Writable } from "node:stream";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keystorePath } from "../../src/db/db.js";
import { createLogger } from "../../src/log.js";
import { startServer, type RunningServer } from "../../src/server/listen.js";
import { registryOf } from "../../src/server/route.js";
import { agentInProject, identityFixture, type Fixture, type TenantAccount } from "../identity-fixture.js";

describe("keys unavailable", () => {
  let f: Fixture;
  let stranded: TenantAccount;
  let healthy: TenantAccount;
  let projectId: string;

  beforeAll(async () => {
    f = await identityFixture();
    stranded = await f.createTenant("stranded");
    healthy = await f.createTenant("healthy");
    projectId = (
      (await (
        await f.call("POST", "/api/projects", { token: stranded.admin.tokens.accessToken, body: { name: "Before" } })
      ).json()) as { project: { id: string } }
    ).project.id;
    // A newer data key wrapped under a master key this installation does not hold.
    f.services.db.keystore.insertTenantKey({
      tenantId: stranded.tenantId,
      version: 2,
      wraps: [{ masterLabel: "env:0000000000000000", wrapped: randomBytes(60) }],
      createdAt: new Date().toISOString(),
    });
    f.services.crypto.forgetTenant(stranded.tenantId);
  });
  afterAll(() => f.close());

  it("answers 503 problem+json and writes nothing", async () => {
    const res = await f.call("POST", `/api/projects/${projectId}/nodes`, {
      token: stranded.admin.tokens.accessToken,
      body: { type: "idea", title: "Cannot be stored" },
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.headers.get("retry-after")).toBe("30");
    const body = (await res.json()) as { type: string; detail: string };
    expect(body.type).toBe("urn:vecto:problem:keys-unavailable");
    expect(body.detail).not.toMatch(/env:|wrapped/);
    const rows = f.services.db
      .forTenant({ tenantId: stranded.tenantId } as never)
      .nodes.list(projectId, { includeArchived: true, limit: 10 });
    expect(rows).toEqual([]);
  });

  it("leaves other tenants working", async () => {
    const res = await f.call("POST", "/api/projects", {
      token: healthy.admin.tokens.accessToken,
      body: { name: "Fine" },
    });
    expect(res.status).toBe(201);
  });
});

/** GET routes that read none of a tenant's sealed data: they answer as usual without its key. Each must exist. */
const NO_SEALED_DATA: Readonly<Record<string, string>> = {
  "GET /healthz": "liveness",
  "GET /readyz": "checks which wraps exist, not whether they open: see READINESS",
  "GET /api/openapi.json": "the API description",
  "GET /api/sessions": "session metadata",
  "GET /api/tokens": "token metadata",
  "GET /api/users/:userId/tokens": "an agent's token metadata",
  "GET /api/projects/:projectId/members": "member ids and roles",
  "GET /api/projects/:projectId/edges": "edge ids and types",
  "GET /api/edges/:edgeId": "edge ids and types",
  "GET /api/notifications": "messages carry no tenant content",
  "GET /api/audit": "the audit trail is signed with a platform key, not sealed under the tenant's",
  "GET /api/audit/verify": "the audit trail",
  "GET /api/audit/checkpoints": "the audit trail",
  "GET /api/audit/proofs/inclusion": "the audit trail",
  "GET /api/audit/proofs/consistency": "the audit trail",
  "GET /api/tenant/settings": "the tenant's settings, none sealed",
  "GET /api/projects/:projectId/autonomy": "agents' autonomy rules: ids and levels",
  "GET /api/me/signing-keys": "public keys and their metadata, none sealed",
  "GET /api/nodes/:nodeId/approval": "the statement to sign: ids, versions and a verdict, no sealed field",
  "GET /api/ai/settings": "providers, models and secret names, none sealed",
  "GET /api/tenants": "the platform root's list: a stranded tenant is listed without its name (below)",
  "GET /api/keys/status": "key metadata (platform root)",
  "GET /api/license": "the license (platform root)",
  "GET /api/usage/report": "counts (platform root)",
};

/**
 * Routes that answer something else first, whatever the keys, with the answer and why: what they
 * read is not this test's to reach.
 */
const ANSWERED_FIRST: Readonly<Record<string, string>> = {
  // Needs audit:security, which the tenant admin asking here lacks; its payload is sealed (src/ai/calls.ts).
  "GET /api/ai/calls/:callId": "403 urn:vecto:problem:forbidden",
  // Asks the installation's Ollama, not the tenant's data; none runs here.
  "GET /api/ai/models": "503 urn:vecto:problem:ai-provider-unavailable",
  // Stateless MCP has no event stream: 405 for everyone.
  "GET /mcp": "405 urn:vecto:problem:method-not-allowed",
};

/**
 * /readyz's keys check is structural (cheap enough to poll): a data key with no wrap under a
 * loaded master key makes it 503, naming the tenant id; a wrap that exists but does not open is
 * for `vecto doctor`, which unwraps.
 */
let strandedId = "";
const READINESS = {
  "master-not-loaded": {
    // The tenant's id only: /readyz is public, so never its name.
    test: (body: string) =>
      (JSON.parse(body) as { checks: { keys: string } }).checks.keys ===
        `1 data key(s) have no wrap under an available master key: tenant ${strandedId} v1` &&
      !body.includes("Tenant stranded"),
  },
  "wrap-does-not-open": { test: (body: string) => body.includes(strandedId) },
} as const;

/** Query strings the routes require. */
const QUERIES: Readonly<Record<string, string>> = {
  "/api/audit/proofs/inclusion": "?seq=0&size=1",
  "/api/audit/proofs/consistency": "?from=1&to=2",
  "/api/usage/report": "?from=2026-01-01&to=2026-01-02",
};

const PLATFORM_SCOPES: readonly string[] = ["platform:admin", "keys:manage", "license:manage"];

/** Makes every data key of the tenant unopenable, in the keystore itself, and drops the cached keys. */
function strand(f: Fixture, tenantId: string, how: "master-not-loaded" | "wrap-does-not-open"): void {
  const raw = new BetterSqlite3(keystorePath(join(f.dataDir, "vecto.db")));
  if (how === "master-not-loaded")
    raw
      .prepare("UPDATE key_wraps SET master_label = 'env:0000000000000000', wrapped = ? WHERE tenant_id = ?")
      .run(randomBytes(60), tenantId);
  else raw.prepare("UPDATE key_wraps SET wrapped = ? WHERE tenant_id = ?").run(randomBytes(60), tenantId);
  raw.close();
  f.services.crypto.forgetTenant(tenantId);
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

describe.each(["master-not-loaded", "wrap-does-not-open"] as const)(
  "every read of a tenant whose data key cannot be unwrapped (%s)",
  (how) => {
    let f: Fixture;
    let stranded: TenantAccount;
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      f = await identityFixture();
      stranded = await f.createTenant("stranded");
      const token = stranded.admin.tokens.accessToken;
      ids.projectId = (
        await json<{ project: { id: string } }>(
          await f.call("POST", "/api/projects", { token, body: { name: "Sealed" } }),
        )
      ).project.id;
      const node = async (type: string): Promise<string> =>
        (
          await json<{ node: { id: string } }>(
            await f.call("POST", `/api/projects/${ids.projectId}/nodes`, {
              token,
              body: { type, title: `A ${type}`, body: "sealed" },
            }),
          )
        ).node.id;
      const idea = await node("idea");
      ids.nodeId = await node("decision");
      ids.edgeId = (
        await json<{ edge: { id: string } }>(
          await f.call("POST", `/api/projects/${ids.projectId}/edges`, {
            token,
            body: { type: "originates_from", from: ids.nodeId, to: idea },
          }),
        )
      ).edge.id;
      expect(
        (await f.call("POST", "/api/secrets", { token, body: { name: "db-password", value: "sealed-value" } })).status,
      ).toBe(201);
      ids.userId = (await f.createUser(stranded.admin, { role: "member", kind: "agent" }, stranded.slug)).id;
      // A comment, and an agent's edit that leaves a revision: both sealed.
      expect(
        (await f.call("POST", `/api/nodes/${ids.nodeId}/comments`, { token, body: { body: "sealed comment" } })).status,
      ).toBe(201);
      const editor = await agentInProject(f, stranded, ids.projectId);
      await f.setAutonomy(stranded.admin, ids.projectId, [{ agentId: editor.id, taskType: null, level: "automate" }]);
      const edit = await f.call("PATCH", `/api/nodes/${ids.nodeId}`, {
        token: editor.token,
        body: { body: "edited by an agent" },
        headers: { "If-Match": '"1"' },
      });
      expect(edit.status).toBe(200);
      ids.tenantId = stranded.tenantId;
      strandedId = stranded.tenantId;
      strand(f, stranded.tenantId, how);
    });
    afterAll(() => f.close());

    it("answers 503 keys-unavailable, or as usual where it reads no sealed data", async () => {
      const specs = registryOf(f.app)?.specs.filter((s) => s.method === "get") ?? [];
      const seen = specs.map((s) => `GET ${s.path}`);
      expect(Object.keys(NO_SEALED_DATA).filter((route) => !seen.includes(route))).toEqual([]); // no stale entries
      const outcomes: string[] = [];
      for (const spec of specs) {
        const platform = spec.scopes !== "public" && spec.scopes.some((s) => PLATFORM_SCOPES.includes(s));
        const path =
          spec.path.replace(/:([A-Za-z]+)/g, (_, name: string) => ids[name] ?? "missing") + (QUERIES[spec.path] ?? "");
        const res = await f.call("GET", path, {
          token: platform ? f.root.tokens.accessToken : stranded.admin.tokens.accessToken,
        });
        const route = `GET ${spec.path}`;
        if (route === "GET /readyz") {
          outcomes.push(
            `${route} ${res.status} ${READINESS[how].test(await res.text()) ? "names the tenant" : "does not name it"}`,
          );
          continue;
        }
        if (route in NO_SEALED_DATA) {
          // As it answers with the key: the proofs refuse sizes no checkpoint signed (422), which is not this test's concern.
          outcomes.push(`${route} ${res.status < 500 ? "as usual" : res.status}`);
          await res.body?.cancel();
          continue;
        }
        const problem =
          res.headers.get("content-type") === "application/problem+json"
            ? await json<{ type: string }>(res)
            : { type: `(${res.headers.get("content-type")})` };
        if (route in ANSWERED_FIRST) {
          outcomes.push(`${route} ${res.status} ${problem.type}`);
          continue;
        }
        outcomes.push(`${route} ${res.status} ${problem.type} retry-after ${res.headers.get("retry-after")}`);
      }
      const readyz =
        how === "master-not-loaded" ? "GET /readyz 503 names the tenant" : "GET /readyz 200 does not name it";
      const expected = specs
        .map((s) => `GET ${s.path}`)
        .map((route) =>
          route === "GET /readyz"
            ? readyz
            : route in NO_SEALED_DATA
              ? `${route} as usual`
              : route in ANSWERED_FIRST
                ? `${route} ${ANSWERED_FIRST[route]}`
                : `${route} 503 urn:vecto:problem:keys-unavailable retry-after 30`,
        );
      expect(outcomes).toEqual(expected);
      // The routes that do read sealed data are the ones that matter: they are all there.
      expect(expected.filter((o) => o.includes(" 503 ")).map((o) => o.split(" ")[1])).toEqual(
        expect.arrayContaining([
          "/api/me",
          "/api/users",
          "/api/users/:userId",
          "/api/projects",
          "/api/projects/:projectId",
          "/api/projects/:projectId/nodes",
          "/api/nodes/:nodeId",
          "/api/nodes/:nodeId/trace",
          "/api/tenants/:tenantId/export",
          "/api/secrets",
        ]),
      );
    });

    it("lists the stranded tenant for the platform root, flagged and without its name, beside the others", async () => {
      const res = await f.call("GET", "/api/tenants", { token: f.root.tokens.accessToken });
      expect(res.status).toBe(200);
      const { tenants } = await json<{
        tenants: { id: string; slug: string; name: string | null; keysUnavailable?: true }[];
      }>(res);
      expect(tenants.find((t) => t.id === stranded.tenantId)).toMatchObject({
        slug: "stranded",
        name: null,
        keysUnavailable: true,
      });
      expect(
        tenants
          .filter((t) => t.id !== stranded.tenantId)
          .every((t) => t.name !== null && t.keysUnavailable === undefined),
      ).toBe(true);
    });

    it("answers the Markdown export 503 too, before its first byte", async () => {
      const res = await f.call("GET", `/api/tenants/${stranded.tenantId}/export?format=markdown`, {
        token: stranded.admin.tokens.accessToken,
      });
      expect(res.status).toBe(503);
      expect((await json<{ type: string }>(res)).type).toBe("urn:vecto:problem:keys-unavailable");
    });
  },
);

/** What an HTTPS client saw: status, framing, bytes, and whether the response ended properly. */
interface Download {
  readonly status: number;
  readonly transferEncoding: string | undefined;
  readonly body: Buffer;
  readonly ending: "complete" | "cut off";
}

function download(port: number, path: string, token: string): Promise<Download> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        headers: { Authorization: `Bearer ${token}` },
        rejectUnauthorized: false,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const done = (ending: Download["ending"]): void =>
          resolve({
            status: res.statusCode ?? 0,
            transferEncoding: res.headers["transfer-encoding"],
            body: Buffer.concat(chunks),
            ending,
          });
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => done(res.complete ? "complete" : "cut off"));
        res.on("error", () => done("cut off"));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** A sealed value damaged on disk: its authentication tag no longer matches. */
function flipLastByte(sealed: Buffer): Buffer {
  const damaged = Buffer.from(sealed);
  damaged[damaged.length - 1] = (damaged[damaged.length - 1] ?? 0) ^ 0x01;
  return damaged;
}

/**
 * The keys are checked before the first byte and stay cached for the export, so what fails midway
 * is what that check cannot see: here the sealed body of the tenant's last node, damaged on disk.
 */
describe("an export that fails midway", () => {
  let f: Fixture;
  let server: RunningServer;
  let logged = "";
  const tenants: Record<"json" | "markdown", TenantAccount> = {} as never;
  const lastNode: Record<"json" | "markdown", string> = {} as never;

  beforeAll(async () => {
    const log = createLogger(
      "info",
      new Writable({ write: (chunk: Buffer, _enc, next) => ((logged += chunk.toString()), next()) }),
    );
    f = await identityFixture({ log });
    for (const format of ["json", "markdown"] as const) {
      const tenant = await f.createTenant(`midway-${format}`);
      tenants[format] = tenant;
      const token = tenant.admin.tokens.accessToken;
      const pid = (
        await json<{ project: { id: string } }>(
          await f.call("POST", "/api/projects", { token, body: { name: "Large" } }),
        )
      ).project.id;
      for (let i = 0; i < 40; i++) {
        const res = await f.call("POST", `/api/projects/${pid}/nodes`, {
          token,
          body: { type: "note", title: `Note ${i}`, body: randomBytes(2_000).toString("hex") },
        });
        expect(res.status).toBe(201);
        lastNode[format] = (await json<{ node: { id: string } }>(res)).node.id;
      }
    }
    const tls = {
      cert: readFileSync(join(f.dataDir, "tls", "cert.pem")),
      key: readFileSync(join(f.dataDir, "tls", "key.pem")),
    };
    server = await startServer(f.app, { listen: { host: "127.0.0.1", port: 0 }, redirectListen: null, tls, log });
  });
  afterAll(async () => {
    await server.close();
    f.close();
  });

  it("arrives complete when nothing fails, chunked", async () => {
    const whole = await download(
      server.address.port,
      `/api/tenants/${tenants.json.tenantId}/export`,
      tenants.json.admin.tokens.accessToken,
    );
    expect(whole).toMatchObject({ status: 200, transferEncoding: "chunked", ending: "complete" });
    expect(
      (JSON.parse(whole.body.toString("utf8")) as { projects: { nodes: unknown[] }[] }).projects[0]?.nodes,
    ).toHaveLength(40);
  });

  it.each(["json", "markdown"] as const)(
    "is cut off after its first bytes, which the client sees (%s)",
    async (format) => {
      const raw = new BetterSqlite3(join(f.dataDir, "vecto.db"));
      const row = raw
        .prepare<[string], { body_enc: Buffer }>("SELECT body_enc FROM nodes WHERE id = ?")
        .get(lastNode[format]);
      raw
        .prepare("UPDATE nodes SET body_enc = ? WHERE id = ?")
        .run(flipLastByte(row?.body_enc ?? Buffer.alloc(1)), lastNode[format]);
      raw.close();
      const tenant = tenants[format];
      const cut = await download(
        server.address.port,
        `/api/tenants/${tenant.tenantId}/export?format=${format}`,
        tenant.admin.tokens.accessToken,
      );
      expect(cut).toMatchObject({ status: 200, transferEncoding: "chunked", ending: "cut off" });
      expect(cut.body.length).toBeGreaterThan(39 * 4_000); // every node before the damaged one went out
      if (format === "json") expect(() => JSON.parse(cut.body.toString("utf8"))).toThrow();
      expect(logged).toContain('"msg":"tenant export failed midway; the response was cut off"');
      expect(logged).toContain('"name":"DecryptError"');
    },
  );

  it("is cut off even when it fails right after its first chunk, instead of passing for a short whole file", async () => {
    const tenant = await f.createTenant("midway-early");
    // The users come first in the JSON export: a damaged name fails it on its second chunk.
    const raw = new BetterSqlite3(join(f.dataDir, "vecto.db"));
    for (const row of raw
      .prepare<[string], { id: string; name_enc: Buffer }>("SELECT id, name_enc FROM users WHERE tenant_id = ?")
      .all(tenant.tenantId)) {
      raw.prepare("UPDATE users SET name_enc = ? WHERE id = ?").run(flipLastByte(row.name_enc), row.id);
    }
    raw.close();
    const cut = await download(
      server.address.port,
      `/api/tenants/${tenant.tenantId}/export`,
      tenant.admin.tokens.accessToken,
    );
    expect(cut).toMatchObject({ status: 200, transferEncoding: "chunked", ending: "cut off" });
  });
});
