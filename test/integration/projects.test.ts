/** Projects: membership decides who enters; project roles cap writes; project-restricted tokens see one project. */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newPersonalToken } from "../../src/auth/personal-tokens.js";
import { secretHash } from "../../src/auth/opaque-secrets.js";
import { behindTheApi, identityFixture, type Account, type Fixture, type TenantAccount } from "../identity-fixture.js";

interface ProjectBody {
  project: { id: string; name: string; standing: string; status: string };
}

describe("projects and membership", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let member: Account;
  let outsider: Account;
  let viewer: Account;
  let projectId: string;
  let otherProjectId: string;

  const asJson = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  const tomorrow = (): string => new Date(Date.now() + 86_400_000).toISOString();

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("proj-acme");
    member = await f.createUser(acme.admin, { role: "member" }, "proj-acme");
    outsider = await f.createUser(acme.admin, { role: "member" }, "proj-acme");
    viewer = await f.createUser(acme.admin, { role: "viewer" }, "proj-acme");
    const created = await f.call("POST", "/api/projects", {
      token: acme.admin.tokens.accessToken,
      body: { name: "Apollo" },
    });
    expect(created.status).toBe(201);
    projectId = (await asJson<ProjectBody>(created)).project.id;
    otherProjectId = (
      await asJson<ProjectBody>(
        await f.call("POST", "/api/projects", { token: acme.admin.tokens.accessToken, body: { name: "Gemini" } }),
      )
    ).project.id;
  });
  afterAll(() => f.close());

  it("hides a project from a member who does not belong to it (404, and absent from lists)", async () => {
    expect((await f.call("GET", `/api/projects/${projectId}`, { token: outsider.tokens.accessToken })).status).toBe(
      404,
    );
    const list = await asJson<{ projects: { id: string }[] }>(
      await f.call("GET", "/api/projects", { token: outsider.tokens.accessToken }),
    );
    expect(list.projects.map((p) => p.id)).not.toContain(projectId);
  });

  it("lets a project viewer read but not change it; an editor changes it", async () => {
    const put = await f.call("PUT", `/api/projects/${projectId}/members/${member.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { role: "viewer" },
    });
    expect(put.status).toBe(200);
    expect(
      (
        await asJson<ProjectBody>(
          await f.call("GET", `/api/projects/${projectId}`, { token: member.tokens.accessToken }),
        )
      ).project,
    ).toMatchObject({ name: "Apollo", standing: "viewer" });
    expect(
      (
        await f.call("PATCH", `/api/projects/${projectId}`, {
          token: member.tokens.accessToken,
          body: { name: "Apollo 2" },
        })
      ).status,
    ).toBe(403);
    await f.call("PUT", `/api/projects/${projectId}/members/${member.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { role: "editor" },
    });
    const renamed = await f.call("PATCH", `/api/projects/${projectId}`, {
      token: member.tokens.accessToken,
      body: { name: "Apollo 2" },
    });
    expect(renamed.status).toBe(200);
    expect((await asJson<ProjectBody>(renamed)).project.name).toBe("Apollo 2");
  });

  it("a tenant viewer stays read-only even as a project editor", async () => {
    await f.call("PUT", `/api/projects/${projectId}/members/${viewer.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { role: "editor" },
    });
    expect((await f.call("GET", `/api/projects/${projectId}`, { token: viewer.tokens.accessToken })).status).toBe(200);
    expect(
      (
        await f.call("PATCH", `/api/projects/${projectId}`, {
          token: viewer.tokens.accessToken,
          body: { name: "Hijacked" },
        })
      ).status,
    ).toBe(403);
    expect(
      (await f.call("POST", "/api/projects", { token: viewer.tokens.accessToken, body: { name: "Mine" } })).status,
    ).toBe(403);
  });

  it("a member who creates a project becomes its editor; members cannot manage memberships", async () => {
    const own = await asJson<ProjectBody>(
      await f.call("POST", "/api/projects", { token: outsider.tokens.accessToken, body: { name: "Side project" } }),
    );
    expect(own.project.standing).toBe("editor");
    expect(
      (
        await f.call("PUT", `/api/projects/${own.project.id}/members/${member.id}`, {
          token: outsider.tokens.accessToken,
          body: { role: "editor" },
        })
      ).status,
    ).toBe(403);
  });

  it("a project-restricted token reaches its project and gets 404 on every other", async () => {
    await f.call("PUT", `/api/projects/${otherProjectId}/members/${member.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { role: "editor" },
    });
    const created = await f.call("POST", "/api/tokens", {
      token: member.tokens.accessToken,
      body: { name: "agent", scopes: ["graph:read", "graph:write"], projectId, expiresAt: tomorrow() },
    });
    expect(created.status).toBe(201);
    const pat = (await asJson<{ token: string }>(created)).token;
    expect((await f.call("GET", `/api/projects/${projectId}`, { token: pat })).status).toBe(200);
    expect((await f.call("GET", `/api/projects/${otherProjectId}`, { token: pat })).status).toBe(404);
    expect((await f.call("PATCH", `/api/projects/${otherProjectId}`, { token: pat, body: { name: "x" } })).status).toBe(
      404,
    );
    expect((await f.call("GET", `/api/projects/${otherProjectId}/members`, { token: pat })).status).toBe(404);
    const list = await asJson<{ projects: { id: string }[] }>(await f.call("GET", "/api/projects", { token: pat }));
    expect(list.projects.map((p) => p.id)).toEqual([projectId]);
    expect((await f.call("POST", "/api/projects", { token: pat, body: { name: "Escape" } })).status).toBe(403);
  });

  it("a project-restricted token cannot carry tenant-wide scopes", async () => {
    await f.call("PUT", `/api/projects/${projectId}/members/${member.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { role: "editor" },
    });
    const admin = (await (await f.login("proj-acme", acme.admin.email, acme.admin.password)).json()) as {
      accessToken: string;
    };
    const res = await f.call("POST", "/api/tokens", {
      token: admin.accessToken,
      body: { name: "wide", scopes: ["graph:read", "users:manage"], projectId, expiresAt: tomorrow() },
    });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { detail: string }).detail).toBe(
      "a project-restricted token cannot carry users:manage",
    );
    const ok = await f.call("POST", "/api/tokens", {
      token: admin.accessToken,
      body: { name: "narrow", scopes: ["self", "graph:read"], projectId, expiresAt: tomorrow() },
    });
    const pat = ((await ok.json()) as { token: string }).token;
    expect((await f.call("GET", "/api/users", { token: pat })).status).toBe(403);
    // Even a row that somehow holds a wide scope is cut down to the project's scopes at every request.
    const forged = newPersonalToken();
    await behindTheApi(f.services.db, acme.tenantId, (tx) =>
      tx.personalTokens.insert({
        id: randomUUID(),
        userId: acme.admin.id,
        name: "forged",
        tokenHash: secretHash(forged),
        scopes: ["self", "users:manage"],
        projectId,
        createdAt: tx.now,
        expiresAt: tomorrow(),
        lastUsedAt: null,
        revokedAt: null,
      }),
    );
    expect((await f.call("GET", "/api/users", { token: forged })).status).toBe(403);
    expect((await f.call("GET", "/api/me", { token: forged })).status).toBe(200);
  });

  it("refuses a token restricted to a project its owner cannot enter", async () => {
    const res = await f.call("POST", "/api/tokens", {
      token: outsider.tokens.accessToken,
      body: { name: "peek", scopes: ["graph:read"], projectId, expiresAt: tomorrow() },
    });
    expect(res.status).toBe(404);
  });

  it("agents cannot sign in; their tokens come from a tenant admin, restricted to a project they belong to", async () => {
    const agent = await f.createUser(acme.admin, { role: "member", kind: "agent" }, "proj-acme");
    expect((await f.login("proj-acme", agent.email, "any-password-at-all")).status).toBe(401);
    const issue = (body: Record<string, unknown>) =>
      f.call("POST", `/api/users/${agent.id}/tokens`, {
        token: acme.admin.tokens.accessToken,
        body: { name: "mcp", scopes: ["graph:read"], expiresAt: tomorrow(), ...body },
      });
    const tenantWide = await issue({});
    expect(tenantWide.status).toBe(422);
    expect(((await tenantWide.json()) as { detail: string }).detail).toContain("restricted to one project");
    expect((await issue({ projectId })).status).toBe(422); // not a member yet
    await f.call("PUT", `/api/projects/${projectId}/members/${agent.id}`, {
      token: acme.admin.tokens.accessToken,
      body: { role: "editor" },
    });
    expect((await issue({ projectId, scopes: ["graph:read", "users:manage"] })).status).toBe(422); // beyond the agent's role
    const ok = await issue({ projectId, scopes: ["self", "graph:read", "graph:write"] });
    expect(ok.status).toBe(201);
    const token = ((await ok.json()) as { token: string }).token;
    const me = (await (await f.call("GET", "/api/me", { token })).json()) as {
      user: { kind: string };
      projectId: string;
    };
    expect(me).toMatchObject({ user: { kind: "agent" }, projectId });
    expect((await f.call("GET", `/api/projects/${otherProjectId}`, { token })).status).toBe(404);
    // A member cannot issue agent tokens; people cannot be given tokens this way.
    expect(
      (
        await f.call("POST", `/api/users/${agent.id}/tokens`, {
          token: member.tokens.accessToken,
          body: { name: "x", scopes: ["graph:read"], projectId, expiresAt: tomorrow() },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await f.call("POST", `/api/users/${member.id}/tokens`, {
          token: acme.admin.tokens.accessToken,
          body: { name: "x", scopes: ["graph:read"], projectId, expiresAt: tomorrow() },
        })
      ).status,
    ).toBe(422);
  });

  it("archives with DELETE and restores with PATCH", async () => {
    expect(
      (await f.call("DELETE", `/api/projects/${otherProjectId}`, { token: acme.admin.tokens.accessToken })).status,
    ).toBe(204);
    expect(
      (
        await asJson<ProjectBody>(
          await f.call("GET", `/api/projects/${otherProjectId}`, { token: acme.admin.tokens.accessToken }),
        )
      ).project.status,
    ).toBe("archived");
    const restored = await f.call("PATCH", `/api/projects/${otherProjectId}`, {
      token: acme.admin.tokens.accessToken,
      body: { status: "active" },
    });
    expect((await asJson<ProjectBody>(restored)).project.status).toBe("active");
  });

  it("keeps tenants apart: another tenant's project and users are not found", async () => {
    const beta = await f.createTenant("proj-beta");
    const betaUser = await f.createUser(beta.admin, { role: "member" }, "proj-beta");
    expect((await f.call("GET", `/api/projects/${projectId}`, { token: beta.admin.tokens.accessToken })).status).toBe(
      404,
    );
    expect(
      (
        await f.call("PUT", `/api/projects/${projectId}/members/${betaUser.id}`, {
          token: beta.admin.tokens.accessToken,
          body: { role: "editor" },
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await f.call("PUT", `/api/projects/${projectId}/members/${betaUser.id}`, {
          token: acme.admin.tokens.accessToken,
          body: { role: "editor" },
        })
      ).status,
    ).toBe(404);
    const list = await asJson<{ projects: { id: string }[] }>(
      await f.call("GET", "/api/projects", { token: beta.admin.tokens.accessToken }),
    );
    expect(list.projects).toEqual([]);
  });

  it("the platform root cannot read tenant projects", async () => {
    expect((await f.call("GET", "/api/projects", { token: f.root.tokens.accessToken })).status).toBe(403);
  });

  it("stores project names encrypted", () => {
    const tenantDb = f.services.db.forTenant(acmeScope());
    const stored = tenantDb.projects.get(projectId);
    expect(Buffer.from(stored?.nameEnc ?? []).toString("latin1")).not.toContain("Apollo");
  });

  function acmeScope(): Parameters<typeof f.services.db.forTenant>[0] {
    // Tests may read the raw rows; the scope is minted the way authentication does.
    return { tenantId: acme.tenantId, actor: { type: "system", id: "test", name: "test" } } as unknown as Parameters<
      typeof f.services.db.forTenant
    >[0];
  }
});
