/**
 * Agents' autonomy levels (issue 16 point 4), through the API with real agent tokens: each level
 * against each task type, the most specific setting winning, people unaffected, drafts kept out of
 * the chain of custody until a person approves them, and Delegate telling the project's people.
 */
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTONOMY_LEVELS, TASK_TYPES, type AutonomyLevel, type TaskType } from "../../src/vocabulary/autonomy.js";
import { parseJsonl, type AuditLine } from "../audit-lines.js";
import {
  agentInProject,
  identityFixture,
  type Account,
  type AutonomyRuleInput,
  type Fixture,
  type TenantAccount,
} from "../identity-fixture.js";

interface NodeBody {
  node: { id: string; version: number; draft: boolean; archivedAt: string | null; status: string };
}
interface EdgeBody {
  edge: { id: string; draft: boolean };
}
interface Agent {
  readonly id: string;
  readonly token: string;
}
type Outcome = "done" | "draft" | "refused";

/** What each level does with each task type (docs/agents.md, "What each level allows"). */
const EXPECTED: Record<AutonomyLevel, Record<TaskType, Outcome>> = {
  observe: {
    comment: "refused",
    "node.create": "refused",
    "node.update": "refused",
    "node.archive": "refused",
    "edge.create": "refused",
    "edge.delete": "refused",
  },
  advise: {
    comment: "done",
    "node.create": "refused",
    "node.update": "refused",
    "node.archive": "refused",
    "edge.create": "refused",
    "edge.delete": "refused",
  },
  assist: {
    comment: "done",
    "node.create": "draft",
    "node.update": "refused",
    "node.archive": "refused",
    "edge.create": "draft",
    "edge.delete": "refused",
  },
  delegate: {
    comment: "done",
    "node.create": "done",
    "node.update": "done",
    "node.archive": "done",
    "edge.create": "done",
    "edge.delete": "done",
  },
  automate: {
    comment: "done",
    "node.create": "done",
    "node.update": "done",
    "node.archive": "done",
    "edge.create": "done",
    "edge.delete": "done",
  },
};

describe("agents' autonomy levels", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let admin: string;
  let editor: Account;
  let viewer: Account;
  let projectId: string;
  let agent: Agent;
  let other: Agent;

  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  const as = (token: string) => ({
    post: (path: string, body: unknown = undefined) => f.call("POST", path, { token, body }),
    patch: (path: string, body: unknown, version: number) =>
      f.call("PATCH", path, { token, body, headers: { "If-Match": `"${version}"` } }),
    del: (path: string) => f.call("DELETE", path, { token }),
    get: (path: string) => f.call("GET", path, { token }),
  });
  const node = async (type = "idea", title = "seed"): Promise<NodeBody["node"]> => {
    const res = await as(admin).post(`/api/projects/${projectId}/nodes`, { type, title });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await json<NodeBody>(res)).node;
  };
  const edge = async (from: string, to: string, type = "relates", token = admin): Promise<Response> =>
    as(token).post(`/api/projects/${projectId}/edges`, { type, from, to });
  const setRules = (rules: readonly AutonomyRuleInput[]): Promise<void> => f.setAutonomy(acme.admin, projectId, rules);
  const projectLevel = (level: AutonomyLevel): Promise<void> => setRules([{ agentId: null, taskType: null, level }]);
  const audit = async (query: string): Promise<AuditLine[]> => {
    const res = await as(admin).get(`/api/audit${query}`);
    expect(res.status).toBe(200);
    return parseJsonl(await res.text());
  };
  const notifications = async (who: Account): Promise<{ message: string; triggeredByAuditVid: string }[]> =>
    (
      await json<{ notifications: { message: string; triggeredByAuditVid: string }[] }>(
        await as(who.tokens.accessToken).get("/api/notifications"),
      )
    ).notifications;

  /** One attempt of a task type by `token`, on things made for it by the admin; the answer, and whether it took effect. */
  async function attempt(token: string, task: TaskType): Promise<{ res: Response; effect: () => Promise<boolean> }> {
    const a = as(token);
    switch (task) {
      case "comment": {
        const target = await node();
        const res = await a.post(`/api/nodes/${target.id}/comments`, { body: "looks risky" });
        return {
          res,
          effect: async () =>
            (await json<{ comments: unknown[] }>(await as(admin).get(`/api/nodes/${target.id}/comments`))).comments
              .length === 1,
        };
      }
      case "node.create": {
        const res = await a.post(`/api/projects/${projectId}/nodes`, { type: "idea", title: "agent idea" });
        return { res, effect: async () => res.status === 201 };
      }
      case "node.update": {
        const target = await node();
        const res = await a.patch(`/api/nodes/${target.id}`, { title: "changed by agent" }, target.version);
        return {
          res,
          effect: async () => (await json<NodeBody>(await as(admin).get(`/api/nodes/${target.id}`))).node.version === 2,
        };
      }
      case "node.archive": {
        const target = await node();
        const res = await a.del(`/api/nodes/${target.id}`);
        return {
          res,
          effect: async () =>
            (await json<NodeBody>(await as(admin).get(`/api/nodes/${target.id}`))).node.archivedAt !== null,
        };
      }
      case "edge.create": {
        const [from, to] = [await node(), await node()];
        const res = await edge(from.id, to.id, "relates", token);
        return { res, effect: async () => res.status === 201 };
      }
      case "edge.delete": {
        const made = await json<EdgeBody>(await edge((await node()).id, (await node()).id));
        const res = await a.del(`/api/edges/${made.edge.id}`);
        return { res, effect: async () => (await as(admin).get(`/api/edges/${made.edge.id}`)).status === 404 };
      }
    }
  }

  async function expectOutcome(token: string, task: TaskType, expected: Outcome, level: string): Promise<void> {
    const { res, effect } = await attempt(token, task);
    const text = await res.clone().text();
    if (expected === "refused") {
      expect(res.status, `${level} ${task}: ${text}`).toBe(403);
      const problem = (await res.json()) as { type: string; detail: string; autonomyLevel: string; taskType: string };
      expect(problem.type).toBe("urn:vecto:problem:forbidden");
      expect(problem.detail, `${level} ${task}`).toContain(task);
      expect(problem.detail.toLowerCase(), `${level} ${task}`).toContain(level);
      expect(problem).toMatchObject({ autonomyLevel: level, taskType: task });
      expect(await effect(), `${level} ${task} must have changed nothing`).toBe(false);
      return;
    }
    expect(res.status, `${level} ${task}: ${text}`).toBeLessThan(300);
    expect(await effect(), `${level} ${task} must have taken effect`).toBe(true);
    if (task === "node.create") expect((await json<NodeBody>(res)).node.draft).toBe(expected === "draft");
    if (task === "edge.create") expect((await json<EdgeBody>(res)).edge.draft).toBe(expected === "draft");
  }

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("autonomy-acme");
    admin = acme.admin.tokens.accessToken;
    editor = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    viewer = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    projectId = (await json<{ project: { id: string } }>(await as(admin).post("/api/projects", { name: "Autonomy" })))
      .project.id;
    for (const [who, role] of [
      [editor, "editor"],
      [viewer, "viewer"],
    ] as const)
      expect(
        (await f.call("PUT", `/api/projects/${projectId}/members/${who.id}`, { token: admin, body: { role } })).status,
      ).toBe(200);
    agent = await agentInProject(f, acme, projectId);
    other = await agentInProject(f, acme, projectId);
  });
  afterAll(() => f.close());

  it("with no setting an agent only reads (Observe, the built-in default)", async () => {
    const settings = await json<{ autonomy: { builtInDefault: string; rules: unknown[] } }>(
      await as(admin).get(`/api/projects/${projectId}/autonomy`),
    );
    expect(settings.autonomy).toMatchObject({ builtInDefault: "observe", rules: [] });
    expect((await as(agent.token).get(`/api/projects/${projectId}/nodes`)).status).toBe(200);
    for (const task of TASK_TYPES) await expectOutcome(agent.token, task, "refused", "observe");
  });

  for (const level of AUTONOMY_LEVELS)
    it(`${level}: each task type is done, drafted or refused as the level says`, async () => {
      await projectLevel(level);
      for (const task of TASK_TYPES) await expectOutcome(agent.token, task, EXPECTED[level][task], level);
    });

  it("the most specific setting wins: agent and task type, then agent, then task type, then project", async () => {
    const create = async (who: Agent): Promise<Outcome> => {
      const res = await as(who.token).post(`/api/projects/${projectId}/nodes`, { type: "note", title: "n" });
      if (res.status === 403) return "refused";
      expect(res.status).toBe(201);
      return (await json<NodeBody>(res)).node.draft ? "draft" : "done";
    };
    const project = { agentId: null, taskType: null, level: "delegate" } as const;
    const task = { agentId: null, taskType: "node.create", level: "observe" } as const;
    const agentRule = { agentId: agent.id, taskType: null, level: "assist" } as const;
    const exact = { agentId: agent.id, taskType: "node.create", level: "automate" } as const;

    await setRules([project]);
    expect([await create(agent), await create(other)]).toEqual(["done", "done"]);
    await setRules([project, task]);
    expect([await create(agent), await create(other)]).toEqual(["refused", "refused"]);
    await setRules([project, task, agentRule]);
    expect([await create(agent), await create(other)]).toEqual(["draft", "refused"]);
    await setRules([agentRule, exact, task, project]); // the order given does not matter
    expect([await create(agent), await create(other)]).toEqual(["done", "refused"]);
    // The agent's own rule (Assist) still governs its other task types.
    await expectOutcome(agent.token, "node.update", "refused", "assist");
    await expectOutcome(other.token, "node.update", "done", "delegate");
    await setRules([]);
    expect([await create(agent), await create(other)]).toEqual(["refused", "refused"]);
  });

  it("people are not governed by autonomy: at Observe for every agent, a person still writes", async () => {
    await setRules([]);
    const token = editor.tokens.accessToken;
    for (const task of TASK_TYPES) {
      const { res, effect } = await attempt(token, task);
      expect(res.status, `${task}: ${await res.clone().text()}`).toBeLessThan(300);
      expect(await effect(), task).toBe(true);
      if (task === "node.create") expect((await json<NodeBody>(res)).node.draft).toBe(false);
    }
    // Project roles still decide for people: a viewer comments on nothing.
    const target = await node();
    expect((await as(viewer.tokens.accessToken).post(`/api/nodes/${target.id}/comments`, { body: "x" })).status).toBe(
      403,
    );
  });

  it("drafts stay out of the chain of custody until a person approves them; agents cannot approve or discard", async () => {
    await setRules([{ agentId: agent.id, taskType: null, level: "assist" }]);
    const decision = await node("decision", "Use SQLite");
    const idea = await node("idea", "Embedded storage");
    const draftEdge = await json<EdgeBody>(await edge(decision.id, idea.id, "originates_from", agent.token));
    expect(draftEdge.edge.draft).toBe(true);
    const draftIdea = await json<NodeBody>(
      await as(agent.token).post(`/api/projects/${projectId}/nodes`, { type: "idea", title: "Agent's idea" }),
    );
    expect(draftIdea.node.draft).toBe(true);
    // A person links the decision to the draft idea: the draft node is still not reached.
    expect((await edge(decision.id, draftIdea.node.id, "originates_from")).status).toBe(201);
    const traced = async (): Promise<string[]> =>
      (
        await json<{ trace: { nodes: { id: string }[] } }>(await as(admin).get(`/api/nodes/${decision.id}/trace`))
      ).trace.nodes
        .map((n) => n.id)
        .sort();
    expect(await traced()).toEqual([decision.id]);
    const drafts = await json<{ nodes: { id: string; draft: boolean }[] }>(
      await as(admin).get(`/api/projects/${projectId}/nodes?draft=true`),
    );
    expect(drafts.nodes.map((n) => n.id)).toContain(draftIdea.node.id);
    expect(drafts.nodes.every((n) => n.draft)).toBe(true);

    // Only a person with write access decides: not the agent (whatever its level), not a viewer.
    await setRules([{ agentId: agent.id, taskType: null, level: "automate" }]);
    for (const path of [
      `/api/nodes/${draftIdea.node.id}/draft/approve`,
      `/api/nodes/${draftIdea.node.id}/draft/discard`,
      `/api/edges/${draftEdge.edge.id}/draft/approve`,
      `/api/edges/${draftEdge.edge.id}/draft/discard`,
    ]) {
      expect((await as(agent.token).post(path)).status, path).toBe(403);
      expect((await as(viewer.tokens.accessToken).post(path)).status, path).toBe(403);
    }
    expect(await traced()).toEqual([decision.id]);

    const approvedEdge = await as(editor.tokens.accessToken).post(`/api/edges/${draftEdge.edge.id}/draft/approve`);
    expect(approvedEdge.status, await approvedEdge.clone().text()).toBe(200);
    expect((await json<EdgeBody>(approvedEdge)).edge.draft).toBe(false);
    expect(await traced()).toEqual([decision.id, idea.id].sort());
    const approvedNode = await as(editor.tokens.accessToken).post(`/api/nodes/${draftIdea.node.id}/draft/approve`);
    expect(approvedNode.status).toBe(200);
    expect((await json<NodeBody>(approvedNode)).node.draft).toBe(false);
    expect(await traced()).toEqual([decision.id, idea.id, draftIdea.node.id].sort());
    expect((await as(editor.tokens.accessToken).post(`/api/nodes/${draftIdea.node.id}/draft/approve`)).status).toBe(
      409,
    );

    const approvals = (await audit("?event=draft.approved")).filter((l) => l.payload.projectId === projectId);
    expect(approvals.map((l) => [l.payload.kind, l.actor.id])).toEqual([
      ["edge", editor.id],
      ["node", editor.id],
    ]);
  });

  it("a draft edge between nodes still in draft waits for them; a draft supersedes changes nothing until approved", async () => {
    await setRules([{ agentId: agent.id, taskType: null, level: "assist" }]);
    const older = await node("decision", "Older");
    const newer = await json<NodeBody>(
      await as(agent.token).post(`/api/projects/${projectId}/nodes`, { type: "decision", title: "Newer" }),
    );
    const supersedes = await json<EdgeBody>(await edge(newer.node.id, older.id, "supersedes", agent.token));
    expect(supersedes.edge.draft).toBe(true);
    const status = async (): Promise<string> =>
      (await json<NodeBody>(await as(admin).get(`/api/nodes/${older.id}`))).node.status;
    expect(await status()).toBe("proposed");
    expect((await as(admin).post(`/api/edges/${supersedes.edge.id}/draft/approve`)).status).toBe(409);
    expect((await as(admin).post(`/api/nodes/${newer.node.id}/draft/approve`)).status).toBe(200);
    expect((await as(admin).post(`/api/edges/${supersedes.edge.id}/draft/approve`)).status).toBe(200);
    expect(await status()).toBe("superseded");

    // Discarding: a draft node is archived (still a draft), a draft edge removed.
    const unwanted = await json<NodeBody>(
      await as(agent.token).post(`/api/projects/${projectId}/nodes`, { type: "idea", title: "Unwanted" }),
    );
    const discarded = await json<NodeBody>(await as(admin).post(`/api/nodes/${unwanted.node.id}/draft/discard`));
    expect(discarded.node).toMatchObject({ draft: true });
    expect(discarded.node.archivedAt).not.toBeNull();
    const unwantedEdge = await json<EdgeBody>(await edge(older.id, (await node()).id, "relates", agent.token));
    expect((await as(admin).post(`/api/edges/${unwantedEdge.edge.id}/draft/discard`)).status).toBe(204);
    expect((await as(admin).get(`/api/edges/${unwantedEdge.edge.id}`)).status).toBe(404);
  });

  it("Delegate tells the project's people of each change, tied to its audit event; Automate tells nobody", async () => {
    const before = {
      admin: (await notifications(acme.admin)).length,
      editor: (await notifications(editor)).length,
      viewer: (await notifications(viewer)).length,
    };
    await setRules([{ agentId: agent.id, taskType: null, level: "delegate" }]);
    const created = await json<NodeBody>(
      await as(agent.token).post(`/api/projects/${projectId}/nodes`, { type: "task", title: "Delegated" }),
    );
    const event = (await audit(`?event=node.created&actor=${agent.id}`)).find(
      (l) => l.payload.nodeId === created.node.id,
    );
    expect(event?.payload).toMatchObject({ autonomyLevel: "delegate" });
    for (const who of [acme.admin, editor]) {
      const told = await notifications(who);
      expect(told.length).toBe(before[who === editor ? "editor" : "admin"] + 1);
      expect(told[0]?.triggeredByAuditVid).toBe(event?.vid);
      expect(told[0]?.message).toContain("node.create");
      expect(told[0]?.message).not.toContain("Delegated"); // no tenant content in a notification
    }
    expect((await notifications(viewer)).length).toBe(before.viewer); // a viewer oversees nothing

    // A comment changes nothing: nobody is told, even at Delegate.
    expect((await as(agent.token).post(`/api/nodes/${created.node.id}/comments`, { body: "noted" })).status).toBe(201);
    expect((await notifications(editor)).length).toBe(before.editor + 1);

    await setRules([{ agentId: agent.id, taskType: null, level: "automate" }]);
    const automated = await as(agent.token).post(`/api/projects/${projectId}/nodes`, { type: "task", title: "Auto" });
    expect(automated.status).toBe(201);
    const autoId = (await json<NodeBody>(automated)).node.id;
    const autoEvent = (await audit(`?event=node.created&actor=${agent.id}`)).find((l) => l.payload.nodeId === autoId);
    expect(autoEvent?.payload).toMatchObject({ autonomyLevel: "automate" });
    expect((await notifications(acme.admin)).length).toBe(before.admin + 1);
    expect((await notifications(editor)).length).toBe(before.editor + 1);
  });

  it("each delegated change is reversible by a person, and the audit event says how", async () => {
    await setRules([{ agentId: agent.id, taskType: null, level: "delegate" }]);
    // An edge the agent deleted: its event names type, from and to, so a person re-creates it.
    const [from, to] = [await node(), await node()];
    const made = await json<EdgeBody>(await edge(from.id, to.id, "blocks"));
    expect((await as(agent.token).del(`/api/edges/${made.edge.id}`)).status).toBe(204);
    const deleted = (await audit("?event=edge.deleted")).find((l) => l.payload.edgeId === made.edge.id);
    expect(deleted?.payload).toMatchObject({ type: "blocks", from: from.id, to: to.id, autonomyLevel: "delegate" });
    expect((await edge(String(deleted?.payload.from), String(deleted?.payload.to), "blocks")).status).toBe(201);
    // A node the agent edited: what it held before is kept, and a person edits it back.
    const edited = await node("decision", "Original title");
    const changed = await as(agent.token).patch(
      `/api/nodes/${edited.id}`,
      { title: "Agent's title", status: "accepted" },
      edited.version,
    );
    expect(changed.status).toBe(200);
    const { revisions } = await json<{
      revisions: { version: number; title: string; status: string; changedBy: string }[];
    }>(await as(editor.tokens.accessToken).get(`/api/nodes/${edited.id}/revisions`));
    expect(revisions).toEqual([
      expect.objectContaining({ version: 1, title: "Original title", status: "proposed", changedBy: agent.id }),
    ]);
    const reverted = await as(editor.tokens.accessToken).patch(
      `/api/nodes/${edited.id}`,
      { title: revisions[0]?.title, status: revisions[0]?.status },
      2,
    );
    expect(await json<{ node: { title: string; status: string } }>(reverted)).toMatchObject({
      node: { title: "Original title", status: "proposed" },
    });
    // A person's own edit keeps no copy of what it corrected (a rectification).
    expect(
      (await json<{ revisions: unknown[] }>(await as(admin).get(`/api/nodes/${edited.id}/revisions`))).revisions,
    ).toHaveLength(1);
    // A node the agent archived: a tenant admin restores it; agents never erase.
    const archived = await node();
    expect((await as(agent.token).del(`/api/nodes/${archived.id}`)).status).toBe(200);
    expect((await as(agent.token).post(`/api/nodes/${archived.id}/erase`, { reason: "x" })).status).toBe(403);
    expect((await as(admin).post(`/api/nodes/${archived.id}/restore`)).status).toBe(200);
  });

  it("erasing a node erases its comments and revisions with it", async () => {
    await setRules([{ agentId: agent.id, taskType: null, level: "automate" }]);
    const target = await node("idea", "To be erased");
    expect((await as(agent.token).post(`/api/nodes/${target.id}/comments`, { body: "c" })).status).toBe(201);
    expect((await as(agent.token).patch(`/api/nodes/${target.id}`, { body: "b" }, target.version)).status).toBe(200);
    const raw = new BetterSqlite3(join(f.dataDir, "vecto.db"), { readonly: true });
    try {
      const count = (table: string): number =>
        raw.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM ${table} WHERE node_id = ?`).get(target.id)
          ?.n ?? -1;
      expect([count("comments"), count("node_revisions")]).toEqual([1, 1]);
      expect((await as(admin).del(`/api/nodes/${target.id}`)).status).toBe(200);
      expect((await as(admin).post(`/api/nodes/${target.id}/erase`, { reason: "request 42" })).status).toBe(200);
      expect([count("comments"), count("node_revisions")]).toEqual([0, 0]);
    } finally {
      raw.close();
    }
  });

  it("an agent's comment is sealed, attributed and audited", async () => {
    await setRules([{ agentId: agent.id, taskType: "comment", level: "advise" }]);
    const target = await node();
    const res = await as(agent.token).post(`/api/nodes/${target.id}/comments`, { body: "consider the threat model" });
    expect(res.status).toBe(201);
    const { comment } = await json<{ comment: { id: string; author: unknown; body: string } }>(res);
    expect(comment).toMatchObject({ author: { type: "agent", id: agent.id }, body: "consider the threat model" });
    const listed = await json<{ comments: { id: string; body: string }[] }>(
      await as(editor.tokens.accessToken).get(`/api/nodes/${target.id}/comments`),
    );
    expect(listed.comments).toEqual([expect.objectContaining({ id: comment.id, body: "consider the threat model" })]);
    const event = (await audit("?event=comment.created")).find((l) => l.payload.commentId === comment.id);
    expect(event).toMatchObject({ actor: { type: "agent", id: agent.id } });
    expect(JSON.stringify(event)).not.toContain("threat model");
  });
});
