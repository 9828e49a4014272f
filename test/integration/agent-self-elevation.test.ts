/**
 * No self-elevation (issue 16 point 5): an agent, even at Automate with every scope its token can
 * carry, changes no autonomy level, scope, role, membership, token or setting, its own or anyone's.
 * The routes are enumerated from the app's own registry (the one the OpenAPI document is built
 * from): every route that changes something is tried with the agent's token and must be refused,
 * unless it is one of the agent writes that autonomy governs (listed below). A route added
 * tomorrow is therefore tried too, without anyone remembering to add it here.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registryOf, type RouteSpec } from "../../src/server/route.js";
import { parseJsonl } from "../audit-lines.js";
import { agentInProject, identityFixture, type Fixture, type TenantAccount } from "../identity-fixture.js";

/**
 * The only POST/PUT/PATCH/DELETE routes an agent's token may get through: graph writes, each
 * governed by the agent's autonomy level (test/integration/autonomy.test.ts), marking its own
 * notification read, and the doors that lead to those same governed functions or change nothing
 * but the record of a model call: MCP (its tools call the graph functions, test/integration/mcp.test.ts)
 * and the AI features (a summary and link suggestions store nothing; a decision draft is a
 * createNode, governed like any; test/integration/ai.test.ts).
 */
const AGENT_WRITES: readonly string[] = [
  "createNode",
  "updateNode",
  "archiveNode",
  "createEdge",
  "deleteEdge",
  "addComment",
  "markNotificationRead",
  "mcp",
  "summarizeNode",
  "proposeLinks",
  "draftDecision",
];

/** Refusals that are not 403 because the route refuses every access token alike, and why. */
const REFUSED_OTHERWISE: Readonly<Record<string, number>> = {
  logout: 422, // ends a signed-in session; an access token has none (it is revoked instead, which agents cannot)
};

const NOWHERE = "00000000-0000-4000-8000-000000000000";

describe("no self-elevation: an agent's token changes no power, its own or anyone's", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let admin: string;
  let projectId: string;
  let otherProjectId: string;
  let agent: { id: string; token: string; tokenId: string };
  let otherAgent: { id: string; token: string; tokenId: string };
  let nodeId: string;
  let edgeId: string;

  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  const inOneDay = (): string => new Date(Date.now() + 86_400_000).toISOString();
  const createdId = async (res: Response, key: "project" | "node" | "edge"): Promise<string> => {
    expect(res.status, await res.clone().text()).toBe(201);
    return (await json<Record<string, { id: string }>>(res))[key]?.id ?? "";
  };

  /** The value each path parameter takes: the agent's own things first, where that is what elevation would aim at. */
  const paramValue = (name: string): string =>
    ({
      projectId,
      nodeId,
      edgeId,
      userId: agent.id,
      tokenId: agent.tokenId,
      tenantId: acme.tenantId,
      name: "agent-secret",
      keyId: "0".repeat(16),
    })[name] ?? NOWHERE;

  /** A body that passes validation where the route reaches its domain check: the strongest elevation attempt. */
  const bodyFor = (spec: RouteSpec): unknown =>
    ({
      putAutonomy: { rules: [{ agentId: agent.id, taskType: null, level: "automate" }] },
      createOwnToken: {
        name: "mine",
        scopes: ["self", "graph:read", "graph:write"],
        projectId: null,
        expiresAt: inOneDay(),
      },
      issueAgentToken: { name: "more", scopes: ["self", "graph:write"], projectId, expiresAt: inOneDay() },
      updateUser: { role: "tenant_admin", auditor: true },
      createUser: { email: "agent-made@example.test", name: "Made", kind: "agent", role: "tenant_admin" },
      setProjectMember: { role: "editor" },
      updateProject: { name: "Renamed by the agent" },
      createProject: { name: "The agent's own" },
      changeOwnPassword: { currentPassword: "whatever-it-was", newPassword: "violet-anchor-quartz-meadow-43" },
      updateTenantSettings: { readAudit: "off" },
      createSecret: { name: "agent-secret", value: "s3cret-value" },
      rotateSecret: { value: "s3cret-value" },
      registerSigningKey: {
        name: "the agent's key",
        publicKey: generateKeyPairSync("ed25519")
          .publicKey.export({ format: "der", type: "spki" })
          .subarray(-32)
          .toString("base64"),
      },
      approveNode: { keyId: "0".repeat(16), signature: Buffer.alloc(64).toString("base64"), digest: "0".repeat(64) },
      updateAiSettings: {
        providers: { openai: { enabled: true, apiKeySecret: "agent-secret" } },
        useCases: { default: { provider: "ollama", model: "agent-chosen" } },
      },
    })[spec.operationId] ?? (spec.body === undefined ? undefined : {});

  /** An agent's tokens as the admin sees them, without lastUsedAt (which every use moves). */
  const tokensOf = async (id: string): Promise<unknown[]> =>
    (
      await json<{ tokens: Record<string, unknown>[] }>(
        await f.call("GET", `/api/users/${id}/tokens`, { token: admin }),
      )
    ).tokens.map(({ lastUsedAt: _used, ...rest }) => rest);

  const agentEvents = async (): Promise<string[]> => {
    const res = await f.call("GET", `/api/audit?actor=${agent.id}`, { token: admin });
    expect(res.status).toBe(200);
    return parseJsonl(await res.text())
      .filter((l) => !l.event.startsWith("read."))
      .map((l) => `${l.event} ${JSON.stringify(l.payload)}`);
  };

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("elevation-acme");
    admin = acme.admin.tokens.accessToken;
    projectId = await createdId(
      await f.call("POST", "/api/projects", { token: admin, body: { name: "P" } }),
      "project",
    );
    otherProjectId = await createdId(
      await f.call("POST", "/api/projects", { token: admin, body: { name: "Q" } }),
      "project",
    );
    // Every scope an agent's project-restricted token can carry (never release:signoff: a person's).
    agent = await agentInProject(f, acme, projectId, ["self", "graph:read", "graph:write", "ai:invoke"]);
    otherAgent = await agentInProject(f, acme, projectId);
    await f.setAutonomy(acme.admin, projectId, [{ agentId: null, taskType: null, level: "automate" }]);
    const node = (title: string) =>
      f.call("POST", `/api/projects/${projectId}/nodes`, { token: admin, body: { type: "idea", title } });
    nodeId = await createdId(await node("a"), "node");
    const to = await createdId(await node("b"), "node");
    edgeId = await createdId(
      await f.call("POST", `/api/projects/${projectId}/edges`, {
        token: admin,
        body: { type: "relates", from: nodeId, to },
      }),
      "edge",
    );
  });
  afterAll(() => f.close());

  it("every changing route outside the governed graph writes refuses the agent's token, and nothing changes", async () => {
    const specs = registryOf(f.app)?.specs ?? [];
    const changing = specs.filter((s) => s.method !== "get" && s.scopes !== "public");
    expect(changing.length).toBeGreaterThan(30);
    const known = new Set(specs.map((s) => s.operationId));
    expect(
      AGENT_WRITES.filter((id) => !known.has(id)),
      "allow-list entries that no longer exist",
    ).toEqual([]);

    const before = {
      events: await agentEvents(),
      autonomy: await (await f.call("GET", `/api/projects/${projectId}/autonomy`, { token: admin })).text(),
      members: await (await f.call("GET", `/api/projects/${projectId}/members`, { token: admin })).text(),
      tokens: await tokensOf(agent.id),
      user: await (await f.call("GET", `/api/users/${agent.id}`, { token: admin })).text(),
    };
    const answered: string[] = [];
    for (const spec of changing.filter((s) => !AGENT_WRITES.includes(s.operationId))) {
      const path = spec.path.replace(/:([A-Za-z]+)/g, (_m, name: string) => paramValue(name));
      const body = bodyFor(spec);
      const res = await f.call(spec.method.toUpperCase(), path, {
        token: agent.token,
        ...(body === undefined ? {} : { body }),
      });
      answered.push(`${spec.operationId} ${res.status}`);
      expect(res.status, `${spec.method.toUpperCase()} ${spec.path} (${spec.operationId}): ${await res.text()}`).toBe(
        REFUSED_OTHERWISE[spec.operationId] ?? 403,
      );
    }
    console.log(`no self-elevation: ${answered.length} changing routes refused an agent token`);
    expect(await agentEvents(), "the agent changed something").toEqual(before.events);
    expect(await (await f.call("GET", `/api/projects/${projectId}/autonomy`, { token: admin })).text()).toBe(
      before.autonomy,
    );
    expect(await (await f.call("GET", `/api/projects/${projectId}/members`, { token: admin })).text()).toBe(
      before.members,
    );
    expect(await tokensOf(agent.id)).toEqual(before.tokens);
    expect(await (await f.call("GET", `/api/users/${agent.id}`, { token: admin })).text()).toBe(before.user);
  });

  it("the elevations that matter, one by one, on the agent itself and on another agent", async () => {
    for (const target of [agent, otherAgent]) {
      const attempts: [string, string, unknown][] = [
        [
          "PUT",
          `/api/projects/${projectId}/autonomy`,
          { rules: [{ agentId: target.id, taskType: null, level: "automate" }] },
        ],
        ["PUT", `/api/projects/${otherProjectId}/autonomy`, { rules: [] }],
        ["PATCH", `/api/users/${target.id}`, { role: "tenant_admin" }],
        ["PATCH", `/api/users/${target.id}`, { auditor: true }],
        ["PATCH", `/api/users/${target.id}`, { status: "active" }],
        ["PUT", `/api/projects/${otherProjectId}/members/${target.id}`, { role: "editor" }],
        ["PUT", `/api/projects/${projectId}/members/${target.id}`, { role: "editor" }],
        ["DELETE", `/api/projects/${projectId}/members/${target.id}`, undefined],
        ["POST", `/api/users/${target.id}/tokens`, { name: "x", scopes: ["self"], projectId, expiresAt: inOneDay() }],
        ["DELETE", `/api/users/${target.id}/tokens/${target.tokenId}`, undefined],
        ["DELETE", `/api/tokens/${target.tokenId}`, undefined],
        ["POST", "/api/tokens", { name: "x", scopes: ["self"], projectId, expiresAt: inOneDay() }],
        ["POST", "/api/tokens", { name: "x", scopes: ["graph:write"], projectId: null, expiresAt: inOneDay() }],
      ];
      for (const [method, path, body] of attempts) {
        const res = await f.call(method, path, { token: agent.token, ...(body === undefined ? {} : { body }) });
        expect(res.status, `${method} ${path} ${JSON.stringify(body)}: ${await res.text()}`).toBe(403);
      }
    }
    // The agent's own token still works as before, and carries what it was issued with.
    const me = await json<{ scopes: string[] }>(await f.call("GET", "/api/me", { token: agent.token }));
    expect(me.scopes.sort()).toEqual(["ai:invoke", "graph:read", "graph:write", "self"]);
  });

  it("a person tenant admin sets autonomy; a member, a project-restricted admin token and an agent cannot", async () => {
    const member = await f.createUser(acme.admin, { role: "member" }, acme.slug);
    const put = (token: string) =>
      f.call("PUT", `/api/projects/${projectId}/autonomy`, {
        token,
        body: { rules: [{ agentId: null, taskType: null, level: "automate" }] },
      });
    expect((await put(member.tokens.accessToken)).status).toBe(403);
    expect((await put(agent.token)).status).toBe(403);
    const pat = await f.call("POST", "/api/tokens", {
      token: admin,
      body: { name: "restricted", scopes: ["self", "graph:read", "graph:write"], projectId, expiresAt: inOneDay() },
    });
    expect(pat.status).toBe(201);
    expect((await put((await json<{ token: string }>(pat)).token)).status).toBe(403);
    // A rule naming a person, or an unknown id, is refused: autonomy governs agents only.
    const person = await f.call("PUT", `/api/projects/${projectId}/autonomy`, {
      token: admin,
      body: { rules: [{ agentId: member.id, taskType: null, level: "automate" }] },
    });
    expect(person.status).toBe(422);
    const twice = await f.call("PUT", `/api/projects/${projectId}/autonomy`, {
      token: admin,
      body: {
        rules: [
          { agentId: null, taskType: "comment", level: "advise" },
          { agentId: null, taskType: "comment", level: "automate" },
        ],
      },
    });
    expect(twice.status).toBe(422);
    expect((await put(admin)).status).toBe(200);
    const events = parseJsonl(
      await (await f.call("GET", "/api/audit?event=autonomy.changed", { token: admin })).text(),
    );
    // The payload is security-sensitive (redacted without audit:security); the actor is not.
    expect(events.at(-1)).toMatchObject({ actor: { type: "human", id: acme.admin.id }, sensitivity: "security" });
  });
});
