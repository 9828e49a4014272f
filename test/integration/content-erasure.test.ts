/**
 * Erasure of content (datasheet section 9): archive (soft delete, hidden from lists, search and
 * traces, restored by a tenant admin) and hard delete on documented request (tenant admin, reason
 * recorded): the ciphertext and search terms leave the database files, exports and traces; an
 * audit tombstone with ids only remains.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditRow } from "../../src/db/repositories/audit-log.js";
import { identityFixture, type Account, type Fixture, type TenantAccount } from "../identity-fixture.js";

interface NodeView {
  id: string;
  archivedAt: string | null;
}

describe("erasure of content", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let other: TenantAccount;
  let admin: string;
  let editor: Account;
  let projectId: string;

  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  const call = (method: string, path: string, token = admin, body?: unknown): Promise<Response> =>
    f.call(method, path, { token, ...(body === undefined ? {} : { body }) });
  const node = async (type: string, title: string, body = "", project = projectId): Promise<string> => {
    const res = await call("POST", `/api/projects/${project}/nodes`, admin, { type, title, body });
    if (res.status !== 201) throw new Error(`create node: ${res.status} ${await res.text()}`);
    return (await json<{ node: NodeView }>(res)).node.id;
  };
  const link = async (type: string, from: string, to: string, project = projectId): Promise<void> => {
    expect((await call("POST", `/api/projects/${project}/edges`, admin, { type, from, to })).status).toBe(201);
  };
  const project = async (name: string): Promise<string> =>
    (await json<{ project: { id: string } }>(await call("POST", "/api/projects", admin, { name }))).project.id;
  const traced = async (nodeId: string, query = ""): Promise<string[]> =>
    (
      await json<{ trace: { nodes: { id: string }[] } }>(await call("GET", `/api/nodes/${nodeId}/trace${query}`))
    ).trace.nodes.map((n) => n.id);
  const listed = async (query: string, token = admin, pid = projectId): Promise<string[]> =>
    (
      await json<{ nodes: { id: string }[] }>(await call("GET", `/api/projects/${pid}/nodes?${query}`, token))
    ).nodes.map((n) => n.id);
  const projectsListed = async (query: string, token: string): Promise<string[]> =>
    (await json<{ projects: { id: string }[] }>(await call("GET", `/api/projects${query}`, token))).projects.map(
      (p) => p.id,
    );
  const events = (name: string): AuditRow[] =>
    f.services.db.auditLog.filtered(acme.tenantId, { event: name, afterSeq: -1, limit: 1000 });
  const exported = async (format: "json" | "markdown"): Promise<Buffer> => {
    const res = await call("GET", `/api/tenants/${acme.tenantId}/export?format=${format}`);
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  };
  /** The raw database files as they are on disk now: the main file and its WAL. */
  const rawFiles = (): Buffer[] => {
    const file = join(f.dataDir, "vecto.db");
    return [file, `${file}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p));
  };
  const onDisk = (needle: Uint8Array): boolean => rawFiles().some((bytes) => bytes.includes(Buffer.from(needle)));

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("erase-acme");
    other = await f.createTenant("erase-other");
    admin = acme.admin.tokens.accessToken;
    editor = await f.createUser(acme.admin, { role: "member" }, "erase-acme");
    projectId = await project("Erasure");
    expect(
      (await call("PUT", `/api/projects/${projectId}/members/${editor.id}`, admin, { role: "editor" })).status,
    ).toBe(200);
  });
  afterAll(() => f.close());

  it("archiving hides a node from lists, search and traces (not walked through either); only a tenant admin restores it", async () => {
    const idea = await node("idea", "Quasar telemetry idea");
    const decision = await node("decision", "Quasar telemetry decision");
    const task = await node("task", "Build the quasar exporter");
    await link("originates_from", decision, idea);
    await link("implements", task, decision);
    expect(await traced(task)).toEqual(expect.arrayContaining([task, decision, idea]));

    const archived = await call("DELETE", `/api/nodes/${decision}`, editor.tokens.accessToken);
    expect(archived.status).toBe(200);
    expect((await json<{ node: NodeView }>(archived)).node.archivedAt).not.toBeNull();
    expect(await traced(task)).toEqual([task]);
    expect((await traced(task, "?includeArchived=true")).sort()).toEqual([task, decision, idea].sort());
    expect(await listed("type=decision")).not.toContain(decision);
    expect(await listed("q=quasar")).toEqual(expect.not.arrayContaining([decision]));
    expect(await listed("q=quasar&includeArchived=true")).toContain(decision);
    // Still reachable by id, marked archived, for whoever may read the project.
    expect(
      (await json<{ node: NodeView }>(await call("GET", `/api/nodes/${decision}`, editor.tokens.accessToken))).node
        .archivedAt,
    ).not.toBeNull();

    expect((await call("POST", `/api/nodes/${decision}/restore`, editor.tokens.accessToken)).status).toBe(403);
    expect((await call("POST", `/api/nodes/${decision}/restore`, other.admin.tokens.accessToken)).status).toBe(404);
    expect((await call("DELETE", `/api/nodes/${decision}`, other.admin.tokens.accessToken)).status).toBe(404);
    const restored = await call("POST", `/api/nodes/${decision}/restore`);
    expect(restored.status).toBe(200);
    expect((await json<{ node: NodeView }>(restored)).node.archivedAt).toBeNull();
    expect((await traced(task)).sort()).toEqual([task, decision, idea].sort());
    const archivedEvent = events("node.archived").find((e) => JSON.parse(e.payload).nodeId === decision);
    expect(archivedEvent?.actorId).toBe(editor.id);
    expect(events("node.restored").find((e) => JSON.parse(e.payload).nodeId === decision)?.actorId).toBe(acme.admin.id);
  });

  it("archiving hides a project from the project list; only a tenant admin restores it", async () => {
    const pid = await project("Shelved");
    expect((await call("PUT", `/api/projects/${pid}/members/${editor.id}`, admin, { role: "editor" })).status).toBe(
      200,
    );
    expect(await projectsListed("", editor.tokens.accessToken)).toContain(pid);
    expect((await call("DELETE", `/api/projects/${pid}`, other.admin.tokens.accessToken)).status).toBe(404);
    expect((await call("DELETE", `/api/projects/${pid}`, editor.tokens.accessToken)).status).toBe(204);
    for (const token of [editor.tokens.accessToken, admin]) {
      expect(await projectsListed("", token)).not.toContain(pid);
      expect(await projectsListed("?includeArchived=true", token)).toContain(pid);
    }
    expect((await call("PATCH", `/api/projects/${pid}`, editor.tokens.accessToken, { status: "active" })).status).toBe(
      403,
    );
    expect(
      (await call("PATCH", `/api/projects/${pid}`, other.admin.tokens.accessToken, { status: "active" })).status,
    ).toBe(404);
    expect(
      (
        await json<{ project: { status: string } }>(
          await call("PATCH", `/api/projects/${pid}`, admin, { status: "active" }),
        )
      ).project.status,
    ).toBe("active");
    expect(await projectsListed("", editor.tokens.accessToken)).toContain(pid);
    expect(
      events("project.archived").some((e) => JSON.parse(e.payload).projectId === pid && e.actorId === editor.id),
    ).toBe(true);
    expect(
      events("project.restored").some((e) => JSON.parse(e.payload).projectId === pid && e.actorId === acme.admin.id),
    ).toBe(true);
  });

  it("hard-deletes an archived node on request: ciphertext, search terms and edges leave the files, exports and traces; a tombstone stays", async () => {
    const title = "Zanzibar quokka acquisition";
    const target = await node("decision", title, `Due diligence notes. ${"confidential ".repeat(600)}`);
    const neighbour = await node("idea", "Expand east");
    await link("originates_from", target, neighbour);
    const release = await node("release", "v9");
    await link("ships_in", target, release);
    const tenantDb = f.services.db.forTenant({ tenantId: acme.tenantId } as never);
    const stored = tenantDb.nodes.get(target);
    if (!stored) throw new Error("node not stored");
    const secrets = {
      title: stored.titleEnc,
      body: stored.bodyEnc.subarray(0, 48),
      bodyTail: stored.bodyEnc.subarray(-48),
      term: await f.services.crypto.blindIndex(acme.tenantId, "nodes.title", "zanzibar"),
    };
    // Positive control: before the erasure every one of them is on disk, so the checks below can fail.
    for (const [what, bytes] of Object.entries(secrets)) expect(onDisk(bytes), `${what} before`).toBe(true);
    expect((await exported("json")).includes(target)).toBe(true);

    const erase = (token: string, body: unknown): Promise<Response> =>
      call("POST", `/api/nodes/${target}/erase`, token, body);
    expect((await erase(admin, { reason: "DSR-2026-114" })).status).toBe(409); // archive first
    expect((await call("DELETE", `/api/nodes/${target}`)).status).toBe(200);
    expect((await erase(admin, {})).status).toBe(422);
    expect((await erase(admin, { reason: "   " })).status).toBe(422);
    expect((await erase(editor.tokens.accessToken, { reason: "DSR-2026-114" })).status).toBe(403);
    expect((await erase(other.admin.tokens.accessToken, { reason: "DSR-2026-114" })).status).toBe(404);
    expect(tenantDb.nodes.get(target)).toBeDefined();

    const res = await erase(admin, { reason: "DSR-2026-114" });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ nodeId: target, projectId, edgesErased: 2 });

    expect((await call("GET", `/api/nodes/${target}`)).status).toBe(404);
    expect((await erase(admin, { reason: "DSR-2026-114" })).status).toBe(404);
    expect((await call("POST", `/api/nodes/${target}/restore`)).status).toBe(404);
    expect(await listed("includeArchived=true&limit=500")).not.toContain(target);
    expect(await traced(release, "?includeArchived=true")).toEqual([release]);
    const edges = await json<{ edges: { from: string; to: string }[] }>(
      await call("GET", `/api/projects/${projectId}/edges?limit=500`),
    );
    expect(edges.edges.some((e) => e.from === target || e.to === target)).toBe(false);
    for (const [what, bytes] of Object.entries(secrets)) expect(onDisk(bytes), `${what} after`).toBe(false);
    for (const format of ["json", "markdown"] as const) {
      const doc = await exported(format);
      expect(doc.includes(target), format).toBe(false);
      expect(doc.includes("Zanzibar"), format).toBe(false);
    }

    const tombstone = events("node.erased").find((e) => JSON.parse(e.payload).nodeId === target);
    expect(tombstone).toMatchObject({
      actorId: acme.admin.id,
      sensitivity: "security",
      scope: "project",
      scopeVid: projectId,
    });
    expect(JSON.parse(tombstone?.payload ?? "{}")).toEqual({
      nodeId: target,
      projectId,
      type: "decision",
      edgesErased: 2,
      reason: "DSR-2026-114",
    });
    expect(tombstone?.payload).not.toMatch(/zanzibar|quokka|diligence/i);
    // The tenant's audit log still verifies: the tombstone is a new event, nothing was edited.
    expect((await json<{ report: { ok: boolean } }>(await call("GET", "/api/audit/verify"))).report.ok).toBe(true);
  });

  it("hard-deletes an archived project with its nodes, edges and memberships", async () => {
    const pid = await project("Project Nightingale");
    expect((await call("PUT", `/api/projects/${pid}/members/${editor.id}`, admin, { role: "editor" })).status).toBe(
      200,
    );
    const a = await node("idea", "Nightingale wingspan", "", pid);
    const b = await node("decision", "Nightingale flight plan", "", pid);
    await link("originates_from", b, a, pid);
    const tenantDb = f.services.db.forTenant({ tenantId: acme.tenantId } as never);
    const secrets = {
      name: tenantDb.projects.get(pid)?.nameEnc ?? new Uint8Array(),
      title: tenantDb.nodes.get(a)?.titleEnc ?? new Uint8Array(),
      term: await f.services.crypto.blindIndex(acme.tenantId, "nodes.title", "nightingale"),
    };
    for (const [what, bytes] of Object.entries(secrets)) expect(onDisk(bytes), `${what} before`).toBe(true);

    const erase = (token: string, body: unknown): Promise<Response> =>
      call("POST", `/api/projects/${pid}/erase`, token, body);
    expect((await erase(admin, { reason: "contract ended, ticket 77" })).status).toBe(409);
    expect((await call("DELETE", `/api/projects/${pid}`, editor.tokens.accessToken)).status).toBe(204);
    expect((await erase(editor.tokens.accessToken, { reason: "contract ended, ticket 77" })).status).toBe(403);
    expect((await erase(other.admin.tokens.accessToken, { reason: "contract ended, ticket 77" })).status).toBe(404);
    expect((await erase(admin, { reason: "" })).status).toBe(422);
    const res = await erase(admin, { reason: "contract ended, ticket 77" });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ projectId: pid, nodesErased: 2, edgesErased: 1 });

    expect((await call("GET", `/api/projects/${pid}`)).status).toBe(404);
    expect((await call("GET", `/api/nodes/${a}`)).status).toBe(404);
    expect((await erase(admin, { reason: "again" })).status).toBe(404);
    expect(await projectsListed("?includeArchived=true", editor.tokens.accessToken)).not.toContain(pid);
    expect(tenantDb.projects.membership(pid, editor.id)).toBeUndefined();
    for (const [what, bytes] of Object.entries(secrets)) expect(onDisk(bytes), `${what} after`).toBe(false);
    for (const format of ["json", "markdown"] as const) {
      const doc = await exported(format);
      for (const id of [pid, a, b]) expect(doc.includes(id), `${format} ${id}`).toBe(false);
    }
    const tombstone = events("project.erased").find((e) => JSON.parse(e.payload).projectId === pid);
    expect(JSON.parse(tombstone?.payload ?? "{}")).toEqual({
      projectId: pid,
      nodesErased: 2,
      edgesErased: 1,
      reason: "contract ended, ticket 77",
    });
    // The other project is untouched.
    expect((await call("GET", `/api/projects/${projectId}`)).status).toBe(200);
  });
});
