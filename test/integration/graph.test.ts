/** Nodes, edges and trace through the API, as a client uses them. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityFixture, type Account, type Fixture, type TenantAccount } from "../identity-fixture.js";

interface NodeBody {
  node: {
    id: string;
    type: string;
    status: string;
    title: string;
    body: string;
    version: number;
    verdict: string | null;
    reviewKind: string | null;
    archivedAt: string | null;
  };
}

describe("graph: nodes, edges, trace", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let admin: string;
  let projectId: string;
  let otherProjectId: string;
  let member: Account;

  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  const node = async (
    type: string,
    title: string,
    extra: Record<string, unknown> = {},
    project = projectId,
  ): Promise<NodeBody["node"]> => {
    const res = await f.call("POST", `/api/projects/${project}/nodes`, {
      token: admin,
      body: { type, title, ...extra },
    });
    if (res.status !== 201) throw new Error(`create node: ${res.status} ${await res.text()}`);
    return (await json<NodeBody>(res)).node;
  };
  const edge = (type: string, from: string, to: string, project = projectId): Promise<Response> =>
    f.call("POST", `/api/projects/${project}/edges`, { token: admin, body: { type, from, to } });

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("graph-acme");
    admin = acme.admin.tokens.accessToken;
    member = await f.createUser(acme.admin, { role: "member" }, "graph-acme");
    projectId = (
      await json<{ project: { id: string } }>(
        await f.call("POST", "/api/projects", { token: admin, body: { name: "Graph" } }),
      )
    ).project.id;
    otherProjectId = (
      await json<{ project: { id: string } }>(
        await f.call("POST", "/api/projects", { token: admin, body: { name: "Other" } }),
      )
    ).project.id;
  });
  afterAll(() => f.close());

  it("creates typed nodes with their starting status and encrypts title and body at rest", async () => {
    const decision = await node("decision", "Use SQLite for the appliance", { body: "Context: one binary, no DBA." });
    expect(decision).toMatchObject({
      type: "decision",
      status: "proposed",
      version: 1,
      title: "Use SQLite for the appliance",
    });
    const stored = f.services.db.forTenant({ tenantId: acme.tenantId } as never).nodes.get(decision.id);
    expect(Buffer.from(stored?.titleEnc ?? []).toString("latin1")).not.toContain("SQLite");
    expect(Buffer.from(stored?.bodyEnc ?? []).toString("latin1")).not.toContain("DBA");
  });

  it("checks statuses and review fields per type", async () => {
    const bad = await f.call("POST", `/api/projects/${projectId}/nodes`, {
      token: admin,
      body: { type: "decision", title: "x", status: "done" },
    });
    expect(bad.status).toBe(422);
    expect((await json<{ detail: string }>(bad)).detail).toContain("proposed, accepted, deprecated, superseded");
    expect(
      (
        await f.call("POST", `/api/projects/${projectId}/nodes`, {
          token: admin,
          body: { type: "task", title: "x", verdict: "approved" },
        })
      ).status,
    ).toBe(422);
    expect(
      (
        await f.call("POST", `/api/projects/${projectId}/nodes`, {
          token: admin,
          body: { type: "review", title: "x", status: "done" },
        })
      ).status,
    ).toBe(422);
    const review = await node("review", "Design review", {
      reviewKind: "design",
      status: "done",
      verdict: "approved",
    });
    expect(review).toMatchObject({ reviewKind: "design", verdict: "approved" });
    // An approved security review is a signed sign-off (docs/signing.md), never a plain write.
    const unsigned = await f.call("POST", `/api/projects/${projectId}/nodes`, {
      token: admin,
      body: { type: "review", title: "x", reviewKind: "security", status: "done", verdict: "approved" },
    });
    expect(unsigned.status).toBe(403);
    expect((await json<{ type: string }>(unsigned)).type).toBe("urn:vecto:problem:signature-required");
    expect(
      (await f.call("POST", `/api/projects/${projectId}/nodes`, { token: admin, body: { type: "widget", title: "x" } }))
        .status,
    ).toBe(422);
  });

  it("needs If-Match to change a node and refuses a stale version (no lost update)", async () => {
    const idea = await node("idea", "Offline licensing");
    expect(
      (await f.call("PATCH", `/api/nodes/${idea.id}`, { token: admin, body: { title: "Offline licensing v2" } }))
        .status,
    ).toBe(428);
    const first = await f.call("PATCH", `/api/nodes/${idea.id}`, {
      token: admin,
      body: { title: "Offline licensing v2" },
      headers: { "If-Match": '"1"' },
    });
    expect(first.status).toBe(200);
    expect(first.headers.get("etag")).toBe('"2"');
    const stale = await f.call("PATCH", `/api/nodes/${idea.id}`, {
      token: admin,
      body: { title: "Lost update" },
      headers: { "If-Match": '"1"' },
    });
    expect(stale.status).toBe(412);
    expect((await json<NodeBody>(await f.call("GET", `/api/nodes/${idea.id}`, { token: admin }))).node.title).toBe(
      "Offline licensing v2",
    );
  });

  it("answers a create and every change with exactly what a later GET returns, byte for byte", async () => {
    // The answer is built from what was written, not read back: it must still be the stored node.
    const answered = async (res: Response): Promise<{ etag: string | null; text: string; id: string }> => {
      const text = await res.text();
      if (res.status !== 200 && res.status !== 201) throw new Error(`${res.status} ${text}`);
      return { etag: res.headers.get("etag"), text, id: (JSON.parse(text) as NodeBody).node.id };
    };
    const expectSameAsGet = async (answer: { etag: string | null; text: string; id: string }): Promise<void> => {
      const read = await answered(await f.call("GET", `/api/nodes/${answer.id}`, { token: admin }));
      expect(answer.text).toBe(read.text);
      expect(answer.etag).toBe(read.etag);
    };
    const patch = async (id: string, version: number, body: Record<string, unknown>) =>
      answered(
        await f.call("PATCH", `/api/nodes/${id}`, { token: admin, body, headers: { "If-Match": `"${version}"` } }),
      );

    const created = await answered(
      await f.call("POST", `/api/projects/${projectId}/nodes`, {
        token: admin,
        body: {
          type: "review",
          title: "  Revue de sécurité — 鍵の管理 🔐  ",
          body: "Findings:\r\n- keys rotate\r\n- שלום \u2067isolated\u2069 text",
          reviewKind: "security",
          status: "done",
          verdict: "changes_requested",
        },
      }),
    );
    expect(created.etag).toBe('"1"');
    expect((JSON.parse(created.text) as NodeBody).node.title).toBe("Revue de sécurité — 鍵の管理 🔐");
    await expectSameAsGet(created);

    const id = created.id;
    const titled = await patch(id, 1, { title: "  Revue de sécurité, v2  " });
    expect((JSON.parse(titled.text) as NodeBody).node).toMatchObject({ title: "Revue de sécurité, v2", version: 2 });
    await expectSameAsGet(titled);
    const bodied = await patch(id, 2, { body: "Rewritten body only" });
    expect((JSON.parse(bodied.text) as NodeBody).node).toMatchObject({
      title: "Revue de sécurité, v2",
      body: "Rewritten body only",
    });
    await expectSameAsGet(bodied);
    const reopened = await patch(id, 3, { status: "open", verdict: null });
    expect((JSON.parse(reopened.text) as NodeBody).node).toMatchObject({ status: "open", verdict: null, version: 4 });
    await expectSameAsGet(reopened);
    const archived = await answered(await f.call("DELETE", `/api/nodes/${id}`, { token: admin }));
    await expectSameAsGet(archived);
    const restored = await answered(await f.call("POST", `/api/nodes/${id}/restore`, { token: admin }));
    expect((JSON.parse(restored.text) as NodeBody).node).toMatchObject({ archivedAt: null, version: 6 });
    await expectSameAsGet(restored);
  });

  it("archives and restores; archived nodes leave the default listing", async () => {
    const note = await node("note", "Temporary note");
    expect(
      (await json<NodeBody>(await f.call("DELETE", `/api/nodes/${note.id}`, { token: admin }))).node.archivedAt,
    ).not.toBeNull();
    const listed = await json<{ nodes: { id: string }[] }>(
      await f.call("GET", `/api/projects/${projectId}/nodes?type=note`, { token: admin }),
    );
    expect(listed.nodes.map((n) => n.id)).not.toContain(note.id);
    const all = await json<{ nodes: { id: string }[] }>(
      await f.call("GET", `/api/projects/${projectId}/nodes?type=note&includeArchived=true`, { token: admin }),
    );
    expect(all.nodes.map((n) => n.id)).toContain(note.id);
    expect(
      (await json<NodeBody>(await f.call("POST", `/api/nodes/${note.id}/restore`, { token: admin }))).node.archivedAt,
    ).toBeNull();
  });

  it("lists with filters and keyset pagination, in a stable order, and searches titles", async () => {
    const names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"];
    for (const name of names) await node("task", `Paginated task ${name}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/api/projects/${projectId}/nodes?type=task&limit=3${cursor ? `&cursor=${cursor}` : ""}`;
      const page: { nodes: { id: string }[]; nextCursor: string | null } = await json(
        await f.call("GET", url, { token: admin }),
      );
      seen.push(...page.nodes.map((n) => n.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(7);
    expect(new Set(seen).size).toBe(7);
    const found = await json<{ nodes: { title: string }[] }>(
      await f.call("GET", `/api/projects/${projectId}/nodes?q=${encodeURIComponent("DELTA, paginated!")}`, {
        token: admin,
      }),
    );
    expect(found.nodes.map((n) => n.title)).toEqual(["Paginated task delta"]);
    expect((await f.call("GET", `/api/projects/${projectId}/nodes?cursor=bogus`, { token: admin })).status).toBe(422);
  });

  it("enforces the edge vocabulary: endpoints, uniqueness, no self-links, no cycles", async () => {
    const idea = await node("idea", "Root idea");
    const task = await node("task", "Build it");
    const decision = await node("decision", "Decide it");
    expect((await edge("originates_from", decision.id, idea.id)).status).toBe(201);
    expect((await edge("originates_from", decision.id, idea.id)).status).toBe(409);
    expect((await edge("originates_from", decision.id, task.id)).status).toBe(422); // must end at an idea
    expect((await edge("implements", decision.id, idea.id)).status).toBe(422); // must start at a task
    expect((await edge("relates", task.id, task.id)).status).toBe(422);
    const a = await node("task", "Parent");
    const b = await node("task", "Child");
    const c = await node("task", "Grandchild");
    expect((await edge("parent_of", a.id, b.id)).status).toBe(201);
    expect((await edge("parent_of", b.id, c.id)).status).toBe(201);
    const cycle = await edge("parent_of", c.id, a.id);
    expect(cycle.status).toBe(422);
    expect((await json<{ detail: string }>(cycle)).detail).toContain("cycle");
    expect((await edge("relates", c.id, a.id)).status).toBe(201); // relates may loop
  });

  it("refuses edges to missing nodes and across projects, writing nothing", async () => {
    const here = await node("task", "Here");
    const there = await node("task", "There", {}, otherProjectId);
    const before = await json<{ edges: unknown[] }>(
      await f.call("GET", `/api/projects/${projectId}/edges?limit=500`, { token: admin }),
    );
    expect((await edge("relates", here.id, there.id)).status).toBe(422);
    expect((await edge("relates", here.id, "00000000-0000-4000-8000-000000000000")).status).toBe(422);
    expect(
      (
        await f.call("POST", `/api/projects/${projectId}/edges`, {
          token: admin,
          body: { type: "relates", from: here.id, to: "not-a-uuid" },
        })
      ).status,
    ).toBe(422);
    const after = await json<{ edges: unknown[] }>(
      await f.call("GET", `/api/projects/${projectId}/edges?limit=500`, { token: admin }),
    );
    expect(after.edges.length).toBe(before.edges.length);
  });

  it("a supersedes edge marks the older decision superseded in the same change", async () => {
    const older = await node("decision", "Postgres only", { status: "accepted" });
    const newer = await node("decision", "SQLite first, Postgres later", { status: "accepted" });
    expect((await edge("supersedes", newer.id, older.id)).status).toBe(201);
    const reread = (await json<NodeBody>(await f.call("GET", `/api/nodes/${older.id}`, { token: admin }))).node;
    expect(reread).toMatchObject({ status: "superseded", version: 2 });
    expect((await edge("supersedes", older.id, newer.id)).status).toBe(422); // would close a cycle
  });

  it("traces a release back through reviews and decisions to ideas", async () => {
    const idea = await node("idea", "Customers need air-gapped installs");
    const decision = await node("decision", "Ship a single binary", { status: "accepted" });
    const task = await node("task", "Build the SEA");
    const review = await node("review", "Release code review", {
      reviewKind: "code",
      status: "done",
      verdict: "approved",
    });
    const release = await node("release", "v1.0.0");
    const unrelated = await node("idea", "Unrelated idea");
    for (const [type, from, to] of [
      ["originates_from", decision.id, idea.id],
      ["implements", task.id, decision.id],
      ["ships_in", task.id, release.id],
      ["reviewed_in", release.id, review.id],
      ["relates", release.id, unrelated.id],
    ] as const)
      expect((await edge(type, from, to)).status).toBe(201);
    const res = await f.call("GET", `/api/nodes/${release.id}/trace`, { token: admin });
    expect(res.status).toBe(200);
    const { trace } = await json<{
      trace: { nodes: { id: string; depth: number; title: string }[]; edges: { type: string }[] };
    }>(res);
    const depth = Object.fromEntries(trace.nodes.map((n) => [n.id, n.depth]));
    expect(depth).toEqual({ [release.id]: 0, [task.id]: 1, [review.id]: 1, [decision.id]: 2, [idea.id]: 3 });
    expect(trace.nodes.find((n) => n.id === idea.id)?.title).toBe("Customers need air-gapped installs");
    expect(trace.edges.map((e) => e.type).sort()).toEqual(["implements", "originates_from", "reviewed_in", "ships_in"]);
    const shallow = await json<{ trace: { nodes: { id: string }[] } }>(
      await f.call("GET", `/api/nodes/${release.id}/trace?depth=1`, { token: admin }),
    );
    expect(shallow.trace.nodes.map((n) => n.id).sort()).toEqual([release.id, task.id, review.id].sort());
    expect((await f.call("GET", `/api/nodes/${release.id}/trace?depth=1000`, { token: admin })).status).toBe(400);
  });

  it("a member outside the project sees neither its nodes nor its edges", async () => {
    const secret = await node("idea", "Secret idea");
    expect((await f.call("GET", `/api/nodes/${secret.id}`, { token: member.tokens.accessToken })).status).toBe(404);
    expect((await f.call("GET", `/api/nodes/${secret.id}/trace`, { token: member.tokens.accessToken })).status).toBe(
      404,
    );
    expect((await f.call("GET", `/api/projects/${projectId}/nodes`, { token: member.tokens.accessToken })).status).toBe(
      404,
    );
    expect(
      (
        await f.call("PATCH", `/api/nodes/${secret.id}`, {
          token: member.tokens.accessToken,
          body: { title: "x" },
          headers: { "If-Match": '"1"' },
        })
      ).status,
    ).toBe(404);
  });

  it("refuses oversized titles and bodies and deeply nested JSON", async () => {
    const long = await f.call("POST", `/api/projects/${projectId}/nodes`, {
      token: admin,
      body: { type: "note", title: "x".repeat(301) },
    });
    expect(long.status).toBe(422);
    const nested = await f.call("POST", `/api/projects/${projectId}/nodes`, {
      token: admin,
      headers: { "Content-Type": "application/json" },
      body: JSON.parse(`{"type":"note","title":"t","body":"b","x":${"[".repeat(50)}${"]".repeat(50)}}`),
    });
    expect(nested.status).toBe(400);
  });
});
