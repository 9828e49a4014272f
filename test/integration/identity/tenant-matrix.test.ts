/**
 * Cross-tenant matrix: credentials of tenant A (and of the platform root) against every
 * tenant-scoped route, aimed at tenant B's resources. Every attempt must fail (404, or 403 where
 * the caller lacks the route's scope; on routes with two ids that mix A's own with B's, a 422
 * about A's own resource is also a refusal), every response must be free of B's ids, and B's data
 * and credentials must be exactly as before.
 *
 * The routes under test are derived from the app's own route table: a new /api/ route with a
 * path parameter (or a new listing) that the tables below do not cover fails the coverage test,
 * so a route cannot be skipped silently.
 */
import type { MiddlewareHandler } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scopeDeclarations } from "../../../src/server/middleware/require-scope.js";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import {
  behindTheApi,
  identityFixture,
  type Account,
  type Fixture,
  type TenantAccount,
} from "../../identity-fixture.js";

type IdKind =
  | "user"
  | "session"
  | "token"
  | "project"
  | "node"
  | "edge"
  | "tenant"
  | "notification"
  | "secret"
  | "signingKey"
  | "aiCall";

interface ParamRoute {
  /** For each path parameter, the kind of id that goes into it. */
  readonly params: Readonly<Record<string, IdKind>>;
  /** Request bodies to try (one attempt per id combination per body), given B's ids; none for GET/DELETE. */
  readonly bodies?: (theirs: Record<IdKind, string[]>) => unknown[];
}

const inOneDay = (): string => new Date(Date.now() + 86_400_000).toISOString();

/** Every tenant-scoped route with a path parameter. Keep in step with the app: the coverage test enforces it. */
const PARAM_ROUTES: Readonly<Record<string, ParamRoute>> = {
  "GET /api/users/:userId": { params: { userId: "user" } },
  "PATCH /api/users/:userId": {
    params: { userId: "user" },
    bodies: () => [
      { name: "Taken Over" },
      { role: "viewer" },
      { role: "tenant_admin" },
      { auditor: true },
      { status: "disabled" },
    ],
  },
  "DELETE /api/users/:userId": { params: { userId: "user" } },
  "POST /api/users/:userId/password-reset": { params: { userId: "user" } },
  "GET /api/users/:userId/tokens": { params: { userId: "user" } },
  // The body is one that would succeed inside B (B's agent, B's project): only the tenant boundary stops it.
  "POST /api/users/:userId/tokens": {
    params: { userId: "user" },
    bodies: (theirs) =>
      theirs.project.map((projectId) => ({
        name: "minted",
        scopes: ["self", "graph:read"],
        projectId,
        expiresAt: inOneDay(),
      })),
  },
  "DELETE /api/users/:userId/tokens/:tokenId": { params: { userId: "user", tokenId: "token" } },
  "DELETE /api/sessions/:sessionId": { params: { sessionId: "session" } },
  "DELETE /api/tokens/:tokenId": { params: { tokenId: "token" } },
  "GET /api/projects/:projectId": { params: { projectId: "project" } },
  "PATCH /api/projects/:projectId": {
    params: { projectId: "project" },
    bodies: () => [{ name: "Taken Over" }, { status: "archived" }],
  },
  "DELETE /api/projects/:projectId": { params: { projectId: "project" } },
  "GET /api/projects/:projectId/members": { params: { projectId: "project" } },
  "PUT /api/projects/:projectId/members/:userId": {
    params: { projectId: "project", userId: "user" },
    bodies: () => [{ role: "editor" }],
  },
  "DELETE /api/projects/:projectId/members/:userId": { params: { projectId: "project", userId: "user" } },
  "POST /api/projects/:projectId/nodes": {
    params: { projectId: "project" },
    bodies: () => [{ type: "idea", title: "Injected" }],
  },
  "GET /api/projects/:projectId/nodes": { params: { projectId: "project" } },
  // Edges between B's own nodes, in B's project: only the tenant boundary stops it.
  "POST /api/projects/:projectId/edges": {
    params: { projectId: "project" },
    bodies: (theirs) => [{ type: "relates", from: theirs.node[0], to: theirs.node[1] }],
  },
  "GET /api/projects/:projectId/edges": { params: { projectId: "project" } },
  "GET /api/nodes/:nodeId": { params: { nodeId: "node" } },
  "PATCH /api/nodes/:nodeId": {
    params: { nodeId: "node" },
    bodies: () => [{ title: "Taken Over" }, { status: "accepted" }],
  },
  "DELETE /api/nodes/:nodeId": { params: { nodeId: "node" } },
  "POST /api/nodes/:nodeId/restore": { params: { nodeId: "node" } },
  // A reason that would do inside B: only the tenant boundary (404, never "archive it first") stops it.
  "POST /api/nodes/:nodeId/erase": { params: { nodeId: "node" }, bodies: () => [{ reason: "request #1" }] },
  "POST /api/projects/:projectId/erase": { params: { projectId: "project" }, bodies: () => [{ reason: "request #1" }] },
  "GET /api/nodes/:nodeId/trace": { params: { nodeId: "node" } },
  "GET /api/edges/:edgeId": { params: { edgeId: "edge" } },
  "POST /api/users/:userId/erase": { params: { userId: "user" } },
  "GET /api/tenants/:tenantId/export": { params: { tenantId: "tenant" } },
  "POST /api/notifications/:notificationId/read": { params: { notificationId: "notification" } },
  "DELETE /api/edges/:edgeId": { params: { edgeId: "edge" } },
  // Agents' autonomy, comments, drafts and revisions (docs/agents.md): bodies that would do inside B.
  "GET /api/projects/:projectId/autonomy": { params: { projectId: "project" } },
  "PUT /api/projects/:projectId/autonomy": {
    params: { projectId: "project" },
    bodies: () => [{ rules: [{ agentId: null, taskType: null, level: "automate" }] }, { rules: [] }],
  },
  "GET /api/nodes/:nodeId/comments": { params: { nodeId: "node" } },
  "POST /api/nodes/:nodeId/comments": { params: { nodeId: "node" }, bodies: () => [{ body: "Injected" }] },
  "GET /api/nodes/:nodeId/revisions": { params: { nodeId: "node" } },
  "POST /api/nodes/:nodeId/draft/approve": { params: { nodeId: "node" } },
  "POST /api/nodes/:nodeId/draft/discard": { params: { nodeId: "node" } },
  "POST /api/edges/:edgeId/draft/approve": { params: { edgeId: "edge" } },
  "POST /api/edges/:edgeId/draft/discard": { params: { edgeId: "edge" } },
  // Signing keys are the caller's own: another tenant's key id names nothing of A's.
  "DELETE /api/me/signing-keys/:keyId": { params: { keyId: "signingKey" } },
  "GET /api/nodes/:nodeId/approval": { params: { nodeId: "node" } },
  "POST /api/nodes/:nodeId/approve": {
    params: { nodeId: "node" },
    bodies: () => [{ keyId: "0".repeat(16), signature: Buffer.alloc(64).toString("base64"), digest: "0".repeat(64) }],
  },
  // AI: B's nodes and calls through A's credentials, with bodies that would do inside B.
  "GET /api/ai/calls/:callId": { params: { callId: "aiCall" } },
  "POST /api/projects/:projectId/nodes/:nodeId/ai/summarize": { params: { projectId: "project", nodeId: "node" } },
  "POST /api/projects/:projectId/nodes/:nodeId/ai/links": { params: { projectId: "project", nodeId: "node" } },
  "POST /api/projects/:projectId/ai/decision-draft": {
    params: { projectId: "project" },
    bodies: (theirs) => [{ sources: [theirs.node[0]] }],
  },
  // Secrets are addressed by name, and names are only unique within a tenant: A holds none of B's names, so each must be 404.
  "PUT /api/secrets/:name": {
    params: { name: "secret" },
    bodies: () => [{ value: "A-OVERWRITES-B" }, { value: "A-OVERWRITES-B", description: "taken over" }],
  },
  "DELETE /api/secrets/:name": { params: { name: "secret" } },
};

/** Every tenant-side listing (GET without a parameter), and the platform root's license and usage views (counts only); none may show B's ids to A. */
const LISTING_ROUTES: readonly string[] = [
  "GET /api/me",
  "GET /api/users",
  "GET /api/sessions",
  "GET /api/tokens",
  "GET /api/projects",
  "GET /api/notifications",
  "GET /api/audit",
  "GET /api/audit/verify",
  "GET /api/audit/checkpoints",
  "GET /api/audit/proofs/inclusion",
  "GET /api/audit/proofs/consistency",
  "GET /api/secrets",
  "GET /api/tenant/settings",
  "GET /api/license",
  "GET /api/usage/report",
  "GET /api/me/signing-keys",
  "GET /api/ai/settings",
];

/** Reads that need query parameters: without them they answer 400, which reveals nothing either. */
const NEEDS_QUERY: ReadonlySet<string> = new Set([
  "GET /api/audit/proofs/inclusion",
  "GET /api/audit/proofs/consistency",
  "GET /api/usage/report",
]);

const paramNames = (path: string): string[] => [...path.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1] as string);

/**
 * The id combinations to try: with one parameter, each of B's ids; with several, every mix of
 * B's ids and A's own ids in which at least one id is B's (A's project with B's user, B's
 * project with A's user, ...). B's tenant id is thrown in everywhere as an id of the wrong kind.
 */
function combinations(
  params: readonly [string, IdKind][],
  theirs: Record<IdKind, string[]>,
  tenantOfTheirs: string,
  ours: Record<IdKind, string[]>,
): { values: Record<string, string>; mixed: boolean }[] {
  let combos: { values: Record<string, string>; anyTheirs: boolean; mixed: boolean }[] = [
    { values: {}, anyTheirs: false, mixed: false },
  ];
  for (const [name, kind] of params) {
    const candidates = [
      ...[...theirs[kind], tenantOfTheirs].map((id) => ({ id, theirs: true })),
      ...(params.length > 1 ? ours[kind].map((id) => ({ id, theirs: false })) : []),
    ];
    combos = combos.flatMap((c) =>
      candidates.map((x) => ({
        values: { ...c.values, [name]: x.id },
        anyTheirs: c.anyTheirs || x.theirs,
        mixed: c.mixed || !x.theirs,
      })),
    );
  }
  return combos.filter((c) => c.anyTheirs).map(({ values, mixed }) => ({ values, mixed }));
}

/** /api/tenants and /api/keys are the platform root's (it manages tenants, so it knows their ids), except a tenant's export, which is its own admin's. */
const isTenantScoped = (path: string): boolean =>
  path.startsWith("/api/") &&
  !path.startsWith("/api/keys") &&
  (!path.startsWith("/api/tenants") || path.endsWith("/export")) &&
  path !== "/api/openapi.json" &&
  // The models of the installation's Ollama: the same list for every tenant, no tenant data in it.
  path !== "/api/ai/models";

interface Attacker {
  readonly name: string;
  readonly token: string;
  scopes: ReadonlySet<string>;
}

describe("cross-tenant matrix", () => {
  let f: Fixture;
  let a: TenantAccount;
  let b: TenantAccount;
  let aMember: Account;
  let bMember: Account;
  let bPats: { id: string; token: string }[];
  let bAgent: Account;
  let attackers: Attacker[];
  let bIds: Record<IdKind, string[]>;
  /** A's own ids, mixed with B's on routes with several parameters. */
  let aIds: Record<IdKind, string[]>;
  let aProject: string;
  /** Everything of B that must never show up in A's responses. */
  let bSecrets: string[];
  let before: string;
  let attempts = 0;
  const routesExercised = new Set<string>();

  /** The scopes route `key` declares through requireScope, from the app's route table. */
  function declaredScopes(key: string): string[] {
    const scopes: string[] = [];
    for (const route of f.app.routes) {
      if (`${route.method} ${route.path}` !== key) continue;
      // Hono wraps a mounted sub-app's handler when that sub-app has its own onError.
      const handler = (route.handler as { __COMPOSED_HANDLER?: unknown }).__COMPOSED_HANDLER ?? route.handler;
      scopes.push(...(scopeDeclarations.get(handler as MiddlewareHandler) ?? []));
    }
    return scopes;
  }

  async function createPat(owner: Account, scopes: string[]): Promise<{ id: string; token: string }> {
    const res = await f.call("POST", "/api/tokens", {
      token: owner.tokens.accessToken,
      body: { name: "matrix", scopes, expiresAt: inOneDay() },
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; token: string };
  }

  async function createProject(owner: Account, name: string): Promise<string> {
    const res = await f.call("POST", "/api/projects", { token: owner.tokens.accessToken, body: { name } });
    expect(res.status, await res.clone().text()).toBe(201);
    return ((await res.json()) as { project: { id: string } }).project.id;
  }

  async function setMember(
    admin: Account,
    projectId: string,
    userId: string,
    role: "editor" | "viewer",
  ): Promise<void> {
    const res = await f.call("PUT", `/api/projects/${projectId}/members/${userId}`, {
      token: admin.tokens.accessToken,
      body: { role },
    });
    expect(res.status, await res.clone().text()).toBe(200);
  }

  async function createNode(owner: Account, projectId: string, type: string, title: string): Promise<string> {
    const res = await f.call("POST", `/api/projects/${projectId}/nodes`, {
      token: owner.tokens.accessToken,
      body: { type, title },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return ((await res.json()) as { node: { id: string } }).node.id;
  }

  async function createEdge(
    owner: Account,
    projectId: string,
    type: string,
    from: string,
    to: string,
  ): Promise<string> {
    const res = await f.call("POST", `/api/projects/${projectId}/edges`, {
      token: owner.tokens.accessToken,
      body: { type, from, to },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return ((await res.json()) as { edge: { id: string } }).edge.id;
  }

  /** A signing key B's admin registers from its session (docs/signing.md); its key id. */
  async function registerSigningKey(owner: Account): Promise<string> {
    const raw = generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).subarray(-32);
    const res = await f.call("POST", "/api/me/signing-keys", {
      token: owner.tokens.accessToken,
      body: { name: "laptop", publicKey: raw.toString("base64") },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return ((await res.json()) as { key: { keyId: string } }).key.keyId;
  }

  /** A recorded call to a language model in B's tenant, planted as the product records one (src/ai/invoke.ts). */
  async function plantAiCall(tenant: TenantAccount, projectId: string): Promise<string> {
    const id = randomUUID();
    await behindTheApi(f.services.db, tenant.tenantId, (tx) =>
      tx.aiCalls.insert({
        id,
        projectId,
        actorType: "human",
        actorId: tenant.admin.id,
        useCase: "summarize",
        provider: "ollama",
        model: "llama3.2:latest",
        outcome: "ok",
        payloadSha256: "0".repeat(64),
        payloadBytes: 2,
        promptTokens: 1,
        outputTokens: 1,
        durationMs: 1,
        createdAt: new Date().toISOString(),
        payloadEnc: null,
        payloadExpiresAt: null,
      }),
    );
    return id;
  }

  async function createSecret(admin: Account, name: string, value: string): Promise<string> {
    const res = await f.call("POST", "/api/secrets", { token: admin.tokens.accessToken, body: { name, value } });
    expect(res.status, await res.clone().text()).toBe(201);
    return name;
  }

  async function issueAgentToken(
    admin: Account,
    agentId: string,
    projectId: string,
  ): Promise<{ id: string; token: string }> {
    const res = await f.call("POST", `/api/users/${agentId}/tokens`, {
      token: admin.tokens.accessToken,
      body: { name: "agent", scopes: ["self", "graph:read"], projectId, expiresAt: inOneDay() },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as { id: string; token: string };
  }

  /** What B's admin sees of B: users, and the security-relevant state of sessions and tokens. */
  async function snapshotOfB(): Promise<string> {
    const admin = b.admin.tokens.accessToken;
    const get = async (path: string, token = admin): Promise<unknown> => {
      const res = await f.call("GET", path, { token });
      expect(res.status, path).toBe(200);
      return res.json();
    };
    const pick = (list: { id: string; revokedAt: string | null; expiresAt: string; scopes?: unknown }[]): unknown[] =>
      list.map(({ id, revokedAt, expiresAt, scopes }) => ({ id, revokedAt, expiresAt, scopes }));
    return JSON.stringify({
      projects: await get("/api/projects"),
      memberProjects: await get("/api/projects", bMember.tokens.accessToken),
      members: await Promise.all(bIds.project.map((id) => get(`/api/projects/${id}/members`))),
      users: await get("/api/users"),
      each: await Promise.all(bIds.user.map((id) => get(`/api/users/${id}`))),
      sessions: await Promise.all(
        [admin, bMember.tokens.accessToken].map(async (t) =>
          pick(((await get("/api/sessions", t)) as { sessions: [] }).sessions),
        ),
      ),
      tokens: await Promise.all(
        [admin, bMember.tokens.accessToken].map(async (t) =>
          pick(((await get("/api/tokens", t)) as { tokens: [] }).tokens),
        ),
      ),
      agentTokens: pick(((await get(`/api/users/${bAgent.id}/tokens`)) as { tokens: [] }).tokens),
      nodes: await Promise.all(bIds.project.map((id) => get(`/api/projects/${id}/nodes?includeArchived=true`))),
      edges: await Promise.all(bIds.project.map((id) => get(`/api/projects/${id}/edges`))),
      notifications: await get("/api/notifications", bMember.tokens.accessToken),
      secrets: await get("/api/secrets"),
    });
  }

  beforeAll(async () => {
    // Thousands of attempts from one address within a minute: the rate limit is not what is tested here.
    f = await identityFixture({ env: { VECTO_RATE_LIMIT_PER_ADDRESS: "off", VECTO_RATE_LIMIT_PER_CREDENTIAL: "off" } });
    a = await f.createTenant("matrix-a");
    b = await f.createTenant("matrix-b");
    aMember = await f.createUser(a.admin, { role: "member" }, a.slug);
    bMember = await f.createUser(b.admin, { role: "member" }, b.slug);
    const bViewer = await f.createUser(b.admin, { role: "viewer" }, b.slug);
    bPats = [await createPat(b.admin, ["self", "users:manage"]), await createPat(bMember, ["self", "graph:read"])];
    const aAdminPat = await createPat(a.admin, ["self", "users:manage", "graph:read"]);
    const bProjects = [
      await createProject(b.admin, "B secret project one"),
      await createProject(bMember, "B secret project two"),
    ];
    await setMember(b.admin, bProjects[0] as string, bMember.id, "editor");
    await setMember(b.admin, bProjects[0] as string, bViewer.id, "viewer");
    bAgent = await f.createUser(b.admin, { role: "member", kind: "agent" }, b.slug);
    await setMember(b.admin, bProjects[0] as string, bAgent.id, "editor");
    bPats.push(await issueAgentToken(b.admin, bAgent.id, bProjects[0] as string));
    aProject = await createProject(a.admin, "A own project");
    await setMember(a.admin, aProject, aMember.id, "editor");
    const aAgent = await f.createUser(a.admin, { role: "member", kind: "agent" }, a.slug);
    await setMember(a.admin, aProject, aAgent.id, "editor");
    const aAgentToken = await issueAgentToken(a.admin, aAgent.id, aProject);
    const bIdea = await createNode(b.admin, bProjects[0] as string, "idea", "B secret idea");
    const bDecision = await createNode(b.admin, bProjects[0] as string, "decision", "B secret decision");
    const bEdge = await createEdge(b.admin, bProjects[0] as string, "originates_from", bDecision, bIdea);
    const aIdea = await createNode(a.admin, aProject, "idea", "A own idea");
    const aDecision = await createNode(a.admin, aProject, "decision", "A own decision");
    const aEdge = await createEdge(a.admin, aProject, "originates_from", aDecision, aIdea);
    const bSecretValues = ["B-SECRET-VALUE-sk-live-4f9a", "B-SECRET-VALUE-anthropic-77c1"];
    const bSecretNames = [
      await createSecret(b.admin, "b-openai.key", bSecretValues[0] as string),
      await createSecret(b.admin, "b-anthropic_key", bSecretValues[1] as string),
    ];
    const aSecretName = await createSecret(a.admin, "a-own-key", "A-SECRET-VALUE-own");
    bIds = {
      user: [b.admin.id, bMember.id, bViewer.id, bAgent.id],
      session: [b.admin.tokens.sessionId, bMember.tokens.sessionId, bViewer.tokens.sessionId],
      token: bPats.map((p) => p.id),
      project: bProjects,
      node: [bIdea, bDecision],
      edge: [bEdge],
      tenant: [b.tenantId],
      notification: (
        (await (await f.call("GET", "/api/notifications", { token: bMember.tokens.accessToken })).json()) as {
          notifications: { id: string }[];
        }
      ).notifications.map((n) => n.id),
      secret: bSecretNames,
      signingKey: [await registerSigningKey(b.admin)],
      aiCall: [await plantAiCall(b, bProjects[0] as string)],
    };
    expect(bIds.notification.length).toBeGreaterThan(0);
    aIds = {
      user: [aMember.id, aAgent.id],
      session: [aMember.tokens.sessionId],
      token: [aAdminPat.id, aAgentToken.id],
      project: [aProject],
      node: [aIdea, aDecision],
      edge: [aEdge],
      tenant: [a.tenantId],
      notification: [],
      secret: [aSecretName],
      signingKey: [],
      aiCall: [],
    };
    bSecrets = [
      b.tenantId,
      ...Object.values(bIds).flat(),
      b.admin.email,
      bMember.email,
      bViewer.email,
      ...bPats.map((p) => p.token),
      "B secret project",
      "B secret idea",
      "B secret decision",
      ...bSecretValues,
    ];
    attackers = [
      { name: "A admin (session)", token: a.admin.tokens.accessToken, scopes: new Set() },
      { name: "A admin (personal token)", token: aAdminPat.token, scopes: new Set() },
      { name: "A member (session)", token: aMember.tokens.accessToken, scopes: new Set() },
      { name: "platform root (session)", token: f.root.tokens.accessToken, scopes: new Set() },
    ];
    for (const attacker of attackers) {
      const res = await f.call("GET", "/api/me", { token: attacker.token });
      expect(res.status, attacker.name).toBe(200);
      attacker.scopes = new Set(((await res.json()) as { scopes: string[] }).scopes);
    }
    before = await snapshotOfB();
  });
  afterAll(() => f.close());

  it("the tables cover every tenant-scoped route with a parameter and every listing, and nothing stale", () => {
    const keys = new Set(
      f.app.routes.filter((r) => r.method !== "ALL" && isTenantScoped(r.path)).map((r) => `${r.method} ${r.path}`),
    );
    const withParam = [...keys].filter((k) => k.includes("/:")).sort();
    const listings = [...keys].filter((k) => k.startsWith("GET ") && !k.includes("/:")).sort();
    expect(withParam, "routes with a path parameter missing from PARAM_ROUTES (or stale entries)").toEqual(
      Object.keys(PARAM_ROUTES).sort(),
    );
    expect(listings, "listing routes missing from LISTING_ROUTES (or stale entries)").toEqual(
      [...LISTING_ROUTES].sort(),
    );
    for (const key of [...withParam, ...listings])
      expect(declaredScopes(key).length, `${key} declares no scope`).toBeGreaterThan(0);
    for (const [key, spec] of Object.entries(PARAM_ROUTES))
      expect(Object.keys(spec.params), key).toEqual(paramNames(key));
  });

  it("the attackers are who they should be (so 404 vs 403 below is meaningful)", () => {
    const byName = new Map(attackers.map((x) => [x.name, x.scopes]));
    expect(byName.get("A admin (session)")?.has("users:manage")).toBe(true);
    expect(byName.get("A admin (personal token)")?.has("users:manage")).toBe(true);
    expect(byName.get("A member (session)")?.has("users:manage")).toBe(false);
    expect(byName.get("platform root (session)")?.has("users:manage")).toBe(false);
  });

  it.each(Object.entries(PARAM_ROUTES))("%s: A cannot reach B's resources", async (key, spec) => {
    const [method, pattern] = key.split(" ") as [string, string];
    const scopes = declaredScopes(key);
    const combos = combinations(Object.entries(spec.params), bIds, b.tenantId, aIds);
    expect(combos.length).toBeGreaterThan(0);
    for (const attacker of attackers) {
      const scoped = scopes.every((s) => attacker.scopes.has(s));
      for (const { values, mixed } of combos) {
        // With only B's ids the answer is 404 (403 without the scope). When one id is A's own, A's
        // own resource may be what is refused first (e.g. 422: that user of A is not an agent);
        // that says nothing about B, which the leak checks and B's snapshot cover.
        const expected = !scoped ? [403] : mixed ? [404, 422] : [404];
        const path = pattern.replace(/:([A-Za-z]+)/g, (_m, name: string) => values[name] as string);
        const used = Object.values(values);
        for (const body of spec.bodies?.(bIds) ?? [undefined]) {
          const res = await f.call(
            method,
            path,
            body === undefined ? { token: attacker.token } : { token: attacker.token, body },
          );
          const text = await res.text();
          const label = `${attacker.name} ${method} ${path} ${body === undefined ? "" : JSON.stringify(body)}`;
          expect.soft(expected, `${label} -> ${res.status} ${text}`).toContain(res.status);
          expect.soft(res.headers.get("content-type"), label).toMatch(/^application\/problem\+json/);
          for (const secret of bSecrets.filter((s) => !used.includes(s)))
            expect.soft(text.includes(secret), `${label} leaks ${secret}`).toBe(false);
          attempts += 1;
        }
      }
    }
    routesExercised.add(key);
  });

  it.each(LISTING_ROUTES)("%s: A's view contains nothing of B", async (key) => {
    const path = key.split(" ")[1] as string;
    const scopes = declaredScopes(key);
    for (const attacker of attackers) {
      for (const query of ["", "?limit=500", `?after=${b.admin.id}`]) {
        const res = await f.call("GET", path + query, { token: attacker.token });
        const text = await res.text();
        const label = `${attacker.name} GET ${path}${query}`;
        // A listing that takes no such parameter refuses it (400): that reveals nothing either.
        const allowed = !scopes.every((s) => attacker.scopes.has(s))
          ? [403]
          : query === "" && !NEEDS_QUERY.has(key)
            ? [200]
            : [200, 400];
        expect.soft(allowed, `${label} -> ${res.status} ${text}`).toContain(res.status);
        for (const secret of bSecrets) expect.soft(text.includes(secret), `${label} leaks ${secret}`).toBe(false);
        attempts += 1;
      }
    }
    routesExercised.add(key);
  });

  it("B is unchanged and all of B's credentials still work", async () => {
    expect(await snapshotOfB()).toBe(before);
    for (const token of [b.admin.tokens.accessToken, bMember.tokens.accessToken, ...bPats.map((p) => p.token)]) {
      expect((await f.call("GET", "/api/me", { token })).status).toBe(200);
    }
    for (const id of bIds.user)
      expect((await f.call("GET", `/api/users/${id}`, { token: b.admin.tokens.accessToken })).status).toBe(200);
  });

  it("the same routes do work within a tenant (the matrix is not passing on a broken route)", async () => {
    const token = a.admin.tokens.accessToken;
    expect((await f.call("GET", `/api/users/${aMember.id}`, { token })).status).toBe(200);
    expect((await f.call("GET", `/api/projects/${aProject}`, { token: aMember.tokens.accessToken })).status).toBe(200);
    expect((await f.call("GET", `/api/projects/${aProject}/members`, { token })).status).toBe(200);
    expect(
      (await f.call("PUT", "/api/secrets/a-own-key", { token, body: { value: "A-SECRET-VALUE-rotated" } })).status,
    ).toBe(200);
    expect((await f.call("GET", `/api/users/${aIds.user[1] as string}/tokens`, { token })).status).toBe(200);
    expect(
      (
        await f.call("PATCH", `/api/projects/${aProject}`, {
          token: aMember.tokens.accessToken,
          body: { name: "A renamed" },
        })
      ).status,
    ).toBe(200);
    expect(
      (await f.call("PATCH", `/api/users/${aMember.id}`, { token, body: { name: "Renamed Member" } })).status,
    ).toBe(200);
    const pat = await createPat(aMember, ["self"]);
    expect((await f.call("DELETE", `/api/tokens/${pat.id}`, { token: aMember.tokens.accessToken })).status).toBe(204);
    // Within a tenant, one user's session or token is not another's to end.
    const memberPat = await createPat(aMember, ["self"]);
    expect((await f.call("DELETE", `/api/sessions/${aMember.tokens.sessionId}`, { token })).status).toBe(404);
    expect((await f.call("DELETE", `/api/tokens/${memberPat.id}`, { token })).status).toBe(404);
    expect((await f.call("GET", "/api/me", { token: memberPat.token })).status).toBe(200);
    expect(
      (await f.call("DELETE", `/api/sessions/${aMember.tokens.sessionId}`, { token: aMember.tokens.accessToken }))
        .status,
    ).toBe(204);
    expect((await f.call("DELETE", `/api/users/${aMember.id}`, { token })).status).toBe(204);
  });

  it("A cannot create anything that points into B: a token bound to B's project, B's user in A's project", async () => {
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    for (const projectId of bIds.project) {
      const res = await f.call("POST", "/api/tokens", {
        token: a.admin.tokens.accessToken,
        body: { name: "into-b", scopes: ["self", "graph:read"], projectId, expiresAt },
      });
      expect(res.status, await res.clone().text()).toBe(404);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
    const tokens = (await (await f.call("GET", "/api/tokens", { token: a.admin.tokens.accessToken })).json()) as {
      tokens: { projectId: string | null }[];
    };
    expect(tokens.tokens.filter((t) => t.projectId !== null && bIds.project.includes(t.projectId))).toEqual([]);
    expect(await snapshotOfB()).toBe(before);
  });

  it("counts the matrix", () => {
    const routeCount = Object.keys(PARAM_ROUTES).length + LISTING_ROUTES.length;
    console.log(`cross-tenant matrix: ${attempts} attempts over ${routeCount} routes`);
    expect(routesExercised.size).toBe(routeCount);
    expect(attempts).toBeGreaterThan(0);
  });
});
