/**
 * Agents' autonomy over real HTTPS, against the built binary (`vecto serve` as a child process): an
 * agent's token is refused at Observe, drafts at Assist, cannot approve its draft nor raise its own
 * level; a person's approval puts the draft in the chain of custody. The level-by-level matrix is
 * test/integration/autonomy.test.ts; this shows the same rules hold on the served product.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, runCli, startServe, tempDir, waitForExit } from "../helpers.js";
import { createAcme, loginToken, serveClient, setupRoot, type Call } from "../serve-client.js";

describe("agents' autonomy over HTTPS (vecto serve)", () => {
  const dir = tempDir("vecto-autonomy-https-");
  const cwd = dir.path;
  let server: Awaited<ReturnType<typeof startServe>> | undefined;
  let call: Call;
  let admin: string;
  let projectId: string;
  let agentId: string;
  let agentToken: string;

  const body = <T>(res: { body: string }): T => JSON.parse(res.body) as T;

  beforeAll(async () => {
    const port = await freePort();
    const env = { VECTO_LISTEN: `127.0.0.1:${port}`, VECTO_HTTP_LISTEN: "", VECTO_BACKUP_SCHEDULE: "off" };
    call = serveClient(port);
    expect(runCli(["init"], { cwd, env }).status).toBe(0);
    const { token } = JSON.parse(runCli(["setup-token", "--json"], { cwd, env }).stdout) as { token: string };
    server = await startServe(cwd, env);
    await createAcme(call, await setupRoot(call, token));
    admin = await loginToken(call, "acme", "admin@acme.test");
    projectId = body<{ project: { id: string } }>(
      await call("POST", "/api/projects", { token: admin, body: { name: "Served" } }),
    ).project.id;
    agentId = body<{ user: { id: string } }>(
      await call("POST", "/api/users", {
        token: admin,
        body: { email: "bot@acme.test", name: "Bot", kind: "agent", role: "member" },
      }),
    ).user.id;
    expect(
      (await call("PUT", `/api/projects/${projectId}/members/${agentId}`, { token: admin, body: { role: "editor" } }))
        .status,
    ).toBe(200);
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    agentToken = body<{ token: string }>(
      await call("POST", `/api/users/${agentId}/tokens`, {
        token: admin,
        body: { name: "bot", scopes: ["self", "graph:read", "graph:write"], projectId, expiresAt },
      }),
    ).token;
  }, 60_000);

  afterAll(async () => {
    if (server) {
      server.child.kill("SIGTERM");
      await waitForExit(server.child);
    }
    dir.cleanup();
  });

  it("Observe refuses, Assist drafts, only a person approves, and the agent cannot raise its own level", async () => {
    const create = (title: string, type = "idea") =>
      call("POST", `/api/projects/${projectId}/nodes`, { token: agentToken, body: { type, title } });
    const refused = await create("at observe");
    expect(refused.status).toBe(403);
    expect(body<{ autonomyLevel: string; taskType: string }>(refused)).toMatchObject({
      autonomyLevel: "observe",
      taskType: "node.create",
    });
    const raise = await call("PUT", `/api/projects/${projectId}/autonomy`, {
      token: agentToken,
      body: { rules: [{ agentId, taskType: null, level: "automate" }] },
    });
    expect(raise.status).toBe(403);

    const rules = [{ agentId, taskType: null, level: "assist" }];
    expect((await call("PUT", `/api/projects/${projectId}/autonomy`, { token: admin, body: { rules } })).status).toBe(
      200,
    );
    const decision = body<{ node: { id: string } }>(
      await call("POST", `/api/projects/${projectId}/nodes`, {
        token: admin,
        body: { type: "decision", title: "Ship it" },
      }),
    ).node.id;
    const drafted = await create("the agent's idea");
    expect(drafted.status).toBe(201);
    const idea = body<{ node: { id: string; draft: boolean } }>(drafted).node;
    expect(idea.draft).toBe(true);
    const link = await call("POST", `/api/projects/${projectId}/edges`, {
      token: admin,
      body: { type: "originates_from", from: decision, to: idea.id },
    });
    expect(link.status).toBe(201);
    const traced = async (): Promise<string[]> =>
      body<{ trace: { nodes: { id: string }[] } }>(
        await call("GET", `/api/nodes/${decision}/trace`, { token: admin }),
      ).trace.nodes.map((n) => n.id);
    expect(await traced()).toEqual([decision]);
    expect((await call("POST", `/api/nodes/${idea.id}/draft/approve`, { token: agentToken })).status).toBe(403);
    expect((await call("POST", `/api/nodes/${idea.id}/draft/approve`, { token: admin })).status).toBe(200);
    expect((await traced()).sort()).toEqual([decision, idea.id].sort());
  });
});
