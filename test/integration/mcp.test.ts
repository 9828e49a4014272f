/**
 * POST /mcp (docs/agents.md "Connecting an MCP client"), on a real `vecto serve` (the bundled
 * dist/vecto.cjs, so the SDK's server side is the one that ships) over HTTPS, driven by the MCP
 * SDK's own client. An agent with project-restricted tokens: a reader's token is offered only the
 * read tools and cannot create; a writer's creates a node and an edge that the HTTP API then shows
 * with the agent as author; neither reaches a node of another project. Without a token the client
 * cannot connect (401); from a foreign origin nothing is served (403). What an agent does over MCP
 * is in the audit log as over the API: its creations, and its reads when the tenant records them.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOllamaServer, type OllamaServer } from "../fixtures/ollama-server.js";
import { httpsRequest, startServe, tempDir, waitForExit, type HttpsResult } from "../helpers.js";
import { STRONG_PASSWORD } from "../identity-fixture.js";
import { loginToken, serveAcme, type Call } from "../serve-client.js";

const READ_TOOLS = ["list_nodes", "search_nodes", "read_node", "read_trace"];
const CREATE_TOOLS = ["create_node", "create_edge", "add_review_comment"];

/** The SDK client's fetch: over the test helper's HTTPS request (the server's certificate is self-signed). */
function fetchOver(port: number) {
  return async (url: string | URL, init: RequestInit = {}): Promise<Response> => {
    const target = new URL(url);
    const res = await httpsRequest(port, `${target.pathname}${target.search}`, {
      method: init.method ?? "GET",
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      ...(typeof init.body === "string" ? { body: init.body } : {}),
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(res.headers))
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    return new Response(res.status === 204 ? null : res.body, { status: res.status, headers });
  };
}

interface AuditLine {
  readonly event: string;
  readonly actor: { readonly type: string; readonly id: string | null };
  readonly payload: Record<string, unknown>;
}

interface Problem {
  readonly type: string;
  readonly status: number;
  readonly detail?: string;
}

const problemOf = (res: HttpsResult): Problem => JSON.parse(res.body) as Problem;
const textOf = (result: CallToolResult): string =>
  result.content.map((part) => (part.type === "text" ? part.text : "")).join("");

describe("MCP server at /mcp", () => {
  const dir = tempDir();
  let port = 0;
  let server: Awaited<ReturnType<typeof startServe>> | undefined;
  let call: Call;
  let admin = "";
  let agentId = "";
  let home = "";
  let elsewhere = "";
  /** A node of the agent's project, and one of a project the agent is not in. */
  let homeNode = "";
  let foreignNode = "";
  let reader = "";
  let writer = "";
  let ollama: OllamaServer;
  const clients: Client[] = [];

  const ok = async <T>(method: string, path: string, body?: unknown, status = 200, token = admin): Promise<T> => {
    const res = await call(method, path, { token, ...(body === undefined ? {} : { body }) });
    expect(res.status, res.body).toBe(status);
    return JSON.parse(res.body) as T;
  };

  async function connect(token: string | undefined, headers: Record<string, string> = {}): Promise<Client> {
    const transport = new StreamableHTTPClientTransport(new URL(`https://127.0.0.1:${port}/mcp`), {
      requestInit: { headers: { ...headers, ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }) } },
      fetch: fetchOver(port),
    });
    const client = new Client({ name: "vecto-test", version: "1.0.0" });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  async function connectError(token: string | undefined, headers: Record<string, string> = {}): Promise<unknown> {
    return connect(token, headers).then(
      () => new Error("connected"),
      (error: unknown) => error,
    );
  }

  /** The raw POST an MCP client's first message is, for what the HTTP answer itself says. */
  const rawInitialize = (headers: Record<string, string>): Promise<HttpsResult> =>
    httpsRequest(port, "/mcp", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream", ...headers },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
      }),
    });

  async function issueAgentToken(scopes: string[]): Promise<string> {
    const body = { name: "mcp", scopes, projectId: home, expiresAt: new Date(Date.now() + 86_400_000).toISOString() };
    return (await ok<{ token: string }>("POST", `/api/users/${agentId}/tokens`, body, 201)).token;
  }

  const createNodeOver = async (token: string, projectId: string, title: string): Promise<string> =>
    (
      await ok<{ node: { id: string } }>(
        "POST",
        `/api/projects/${projectId}/nodes`,
        { type: "decision", title, body: "Context and consequences." },
        201,
        token,
      )
    ).node.id;

  beforeAll(async () => {
    ollama = await startOllamaServer();
    ({ port, server, call, admin } = await serveAcme(dir.path, {
      VECTO_LOG_LEVEL: "info",
      VECTO_OLLAMA_URL: ollama.url,
    }));
    home = (await ok<{ project: { id: string } }>("POST", "/api/projects", { name: "Agent home" }, 201)).project.id;
    elsewhere = (await ok<{ project: { id: string } }>("POST", "/api/projects", { name: "Elsewhere" }, 201)).project.id;
    agentId = (
      await ok<{ user: { id: string } }>(
        "POST",
        "/api/users",
        { email: "agent@acme.test", name: "Release bot", role: "member", kind: "agent" },
        201,
      )
    ).user.id;
    await ok("PUT", `/api/projects/${home}/members/${agentId}`, { role: "editor" });
    homeNode = await createNodeOver(admin, home, "Adopt signed releases");
    foreignNode = await createNodeOver(admin, elsewhere, "Confidential merger plan");
    reader = await issueAgentToken(["self", "graph:read"]);
    writer = await issueAgentToken(["self", "graph:read", "graph:write"]);
    // The agent acts on its own in its project (docs/agents.md); the autonomy test below moves it.
    await setLevel("automate");
    await ok("PUT", "/api/ai/settings", { useCases: { default: { provider: "ollama", model: "llama3.2:latest" } } });
  });

  const setLevel = (level: string): Promise<unknown> =>
    ok("PUT", `/api/projects/${home}/autonomy`, { rules: [{ agentId, taskType: null, level }] });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    if (server) {
      server.child.kill("SIGTERM");
      await waitForExit(server.child);
    }
    dir.cleanup();
    await ollama.close();
  });

  it("without a token the SDK client cannot connect: 401 problem+json with WWW-Authenticate: Bearer", async () => {
    const error = await connectError(undefined);
    expect(error).toBeInstanceOf(StreamableHTTPError);
    expect((error as StreamableHTTPError).code).toBe(401);
    const res = await rawInitialize({});
    expect(res.status).toBe(401);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.headers["www-authenticate"]).toMatch(/^Bearer /);
    // A valid token without graph:read: 403, no tool is offered.
    const selfOnly = await issueAgentToken(["self"]);
    expect(((await connectError(selfOnly)) as StreamableHTTPError).code).toBe(403);
    expect(problemOf(await rawInitialize({ Authorization: `Bearer ${selfOnly}` })).detail).toBe(
      "requires scope graph:read",
    );
    expect((await connectError("vct_not-a-real-token-at-all-000000000000")) as StreamableHTTPError).toMatchObject({
      code: 401,
    });
  });

  it("a request from another origin is refused with 403 before anything else; the appliance's own origin is served", async () => {
    for (const origin of [
      "https://evil.example",
      `http://127.0.0.1:${port}`,
      "null",
      `https://127.0.0.1:${port + 1}`,
    ]) {
      const error = await connectError(writer, { Origin: origin });
      expect((error as StreamableHTTPError).code, origin).toBe(403);
      const res = await rawInitialize({ Origin: origin, Authorization: `Bearer ${writer}` });
      expect(res.status, origin).toBe(403);
      expect(problemOf(res).type).toBe("urn:vecto:problem:forbidden");
      // Refused before authentication: without a token too, the answer is the same 403.
      expect((await rawInitialize({ Origin: origin })).status, origin).toBe(403);
    }
    const own = await connect(reader, { Origin: `https://127.0.0.1:${port}` });
    expect((await own.listTools()).tools.length).toBeGreaterThan(0);
  });

  it("GET and DELETE /mcp answer 405 problem+json (stateless: no event stream, no session)", async () => {
    for (const method of ["GET", "DELETE"]) {
      const res = await httpsRequest(port, "/mcp", { method, headers: { Authorization: `Bearer ${reader}` } });
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe("POST");
      expect(problemOf(res).type).toBe("urn:vecto:problem:method-not-allowed");
    }
  });

  it("a read-only token is offered the read tools only, and cannot create", async () => {
    const client = await connect(reader);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(READ_TOOLS);
    const refused = (await client.callTool({
      name: "create_node",
      arguments: { type: "idea", title: "Sneaked in" },
    })) as CallToolResult;
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/create_node not found/);
    const nodes = await ok<{ nodes: { title: string }[] }>("GET", `/api/projects/${home}/nodes`);
    expect(nodes.nodes.map((n) => n.title)).not.toContain("Sneaked in");
  });

  it("a writer's token creates a node and an edge; the HTTP API shows them with the agent as author", async () => {
    const client = await connect(writer);
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual([...READ_TOOLS, ...CREATE_TOOLS]);
    const created = (await client.callTool({
      name: "create_node",
      arguments: { type: "task", title: "Sign release artefacts", body: "Use the release key." },
    })) as CallToolResult;
    expect(created.isError, textOf(created)).toBeFalsy();
    const node = (created.structuredContent as { node: { id: string; projectId: string } }).node;
    expect(JSON.parse(textOf(created))).toEqual(created.structuredContent);
    expect(node.projectId).toBe(home);
    const shown = await ok<{ node: { title: string; author: { type: string; id: string } } }>(
      "GET",
      `/api/nodes/${node.id}`,
    );
    expect(shown.node).toMatchObject({ title: "Sign release artefacts", author: { type: "agent", id: agentId } });

    const linked = (await client.callTool({
      name: "create_edge",
      arguments: { type: "implements", from: node.id, to: homeNode },
    })) as CallToolResult;
    expect(linked.isError, textOf(linked)).toBeFalsy();
    const edge = (linked.structuredContent as { edge: { id: string } }).edge;
    expect(await ok("GET", `/api/edges/${edge.id}`)).toMatchObject({
      edge: { type: "implements", from: node.id, to: homeNode },
    });

    const trace = (await client.callTool({ name: "read_trace", arguments: { nodeId: node.id } })) as CallToolResult;
    const traced = (trace.structuredContent as { trace: { nodes: { id: string; depth: number }[] } }).trace.nodes;
    expect(traced.map((n) => n.id).sort()).toEqual([node.id, homeNode].sort());
  });

  it("reads: list, search and read a node of the token's project", async () => {
    const client = await connect(reader);
    const listed = (await client.callTool({ name: "list_nodes", arguments: {} })) as CallToolResult;
    const titles = (listed.structuredContent as { nodes: { title: string }[] }).nodes.map((n) => n.title);
    expect(titles).toContain("Adopt signed releases");
    const found = (await client.callTool({
      name: "search_nodes",
      arguments: { q: "signed", type: "decision" },
    })) as CallToolResult;
    expect((found.structuredContent as { nodes: { id: string }[] }).nodes.map((n) => n.id)).toEqual([homeNode]);
    const none = (await client.callTool({
      name: "search_nodes",
      arguments: { q: "nonexistentword" },
    })) as CallToolResult;
    expect((none.structuredContent as { nodes: unknown[] }).nodes).toEqual([]);
    const read = (await client.callTool({ name: "read_node", arguments: { nodeId: homeNode } })) as CallToolResult;
    expect(read.structuredContent).toMatchObject({ node: { id: homeNode, title: "Adopt signed releases" } });
  });

  it("a project-restricted agent token cannot reach another project's node: isError, nothing of it in the answer", async () => {
    const client = await connect(writer);
    const attempts: { name: string; arguments: Record<string, unknown> }[] = [
      { name: "read_node", arguments: { nodeId: foreignNode } },
      { name: "read_trace", arguments: { nodeId: foreignNode } },
      { name: "list_nodes", arguments: { projectId: elsewhere } },
      { name: "search_nodes", arguments: { projectId: elsewhere, q: "merger" } },
      { name: "create_node", arguments: { projectId: elsewhere, type: "idea", title: "Planted" } },
      { name: "create_edge", arguments: { projectId: home, type: "relates", from: homeNode, to: foreignNode } },
    ];
    for (const attempt of attempts) {
      const result = (await client.callTool(attempt)) as CallToolResult;
      expect(result.isError, attempt.name).toBe(true);
      expect(textOf(result), attempt.name).toMatch(/^(to: )?no such (node|project)( in this project)?$/);
      expect(JSON.stringify(result), attempt.name).not.toMatch(/Confidential|merger plan/);
      expect(result.structuredContent, attempt.name).toBeUndefined();
    }
    const foreign = await ok<{ nodes: { title: string }[] }>("GET", `/api/projects/${elsewhere}/nodes`);
    expect(foreign.nodes.map((n) => n.title)).toEqual(["Confidential merger plan"]);
  });

  it("a tenant-wide token must name the project", async () => {
    const client = await connect(admin);
    const result = (await client.callTool({ name: "list_nodes", arguments: {} })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe("projectId is required: this token is not restricted to one project");
    const named = (await client.callTool({
      name: "list_nodes",
      arguments: { projectId: elsewhere },
    })) as CallToolResult;
    expect((named.structuredContent as { nodes: unknown[] }).nodes).toHaveLength(1);
  });

  it("invalid input is an isError result naming what was wrong; nothing is created", async () => {
    const client = await connect(writer);
    const cases: { name: string; arguments: Record<string, unknown>; says: RegExp }[] = [
      { name: "create_node", arguments: { type: "rumour", title: "x" }, says: /type/ },
      { name: "create_node", arguments: { type: "idea", title: "a".repeat(301) }, says: /title/ },
      { name: "create_node", arguments: { type: "idea", title: "nul\u0000byte" }, says: /title/ },
      { name: "create_node", arguments: { type: "idea", title: "ok", extra: 1 }, says: /extra/ },
      { name: "read_node", arguments: { nodeId: "not-a-uuid" }, says: /nodeId/ },
      { name: "list_nodes", arguments: { limit: 1000 }, says: /limit/ },
      { name: "read_trace", arguments: { nodeId: homeNode, depth: 65 }, says: /depth/ },
    ];
    for (const bad of cases) {
      const result = (await client.callTool({ name: bad.name, arguments: bad.arguments })) as CallToolResult;
      expect(result.isError, bad.name).toBe(true);
      expect(textOf(result), bad.name).toMatch(/Input validation error/);
      expect(textOf(result), bad.name).toMatch(bad.says);
    }
    // Rules the domain applies come back as its message.
    const domain = (await client.callTool({
      name: "create_node",
      arguments: { type: "idea", title: "Wrong status", status: "released" },
    })) as CallToolResult;
    expect(domain.isError).toBe(true);
    expect(textOf(domain)).toBe("status of a idea must be one of open, adopted, discarded");
    const titles = (await ok<{ nodes: { title: string }[] }>("GET", `/api/projects/${home}/nodes`)).nodes.map(
      (n) => n.title,
    );
    expect(titles).not.toContain("Wrong status");
    expect(titles).not.toContain("ok");
  });

  it("the tools' annotations say exactly what they do", async () => {
    const client = await connect(writer);
    const { tools } = await client.listTools();
    const annotations = Object.fromEntries(tools.map((t) => [t.name, t.annotations]));
    for (const name of READ_TOOLS)
      expect(annotations[name], name).toEqual({ readOnlyHint: true, openWorldHint: false });
    for (const name of CREATE_TOOLS)
      expect(annotations[name], name).toEqual({
        readOnlyHint: false,
        destructiveHint: false,
        idempotentHint: false,
        openWorldHint: false,
      });
    // Limits reach the client in the JSON Schema, as they are enforced.
    const createNode = tools.find((t) => t.name === "create_node");
    expect(createNode?.inputSchema.required).toEqual(["type", "title"]);
    expect(createNode?.inputSchema.properties?.title).toMatchObject({ maxLength: 300 });
  });

  it("one JSON-RPC message per request: a batch, an unknown field or a non-JSON body is refused as problem+json", async () => {
    const post = (body: string, contentType = "application/json"): Promise<HttpsResult> =>
      httpsRequest(port, "/mcp", {
        method: "POST",
        headers: {
          Authorization: `Bearer ${reader}`,
          "Content-Type": contentType,
          Accept: "application/json, text/event-stream",
        },
        body,
      });
    const batch = await post(JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "tools/list" }]));
    expect(batch.status).toBe(422);
    expect(problemOf(batch).type).toBe("urn:vecto:problem:validation-failed");
    expect((await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", smuggled: 1 }))).status).toBe(422);
    expect((await post("{not json")).status).toBe(400);
    expect((await post("{}", "text/plain")).status).toBe(415);
    // The transport's own refusal (an Accept without text/event-stream) comes as problem+json too.
    const res = await httpsRequest(port, "/mcp", {
      method: "POST",
      headers: { Authorization: `Bearer ${reader}`, "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
    });
    expect(res.status).toBe(406);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });

  it("the audit log names the agent for what it created, and its reads when the tenant records every read", async () => {
    await ok(
      "POST",
      "/api/users",
      {
        email: "auditor@acme.test",
        name: "Auditor",
        role: "viewer",
        auditor: true,
        password: STRONG_PASSWORD,
      },
      201,
    );
    const auditor = await loginToken(call, "acme", "auditor@acme.test");
    await ok("PUT", "/api/tenant/settings", { readAudit: "all" });
    const client = await connect(reader);
    expect(
      ((await client.callTool({ name: "read_node", arguments: { nodeId: homeNode } })) as CallToolResult).isError,
    ).toBeFalsy();
    // Read events are written in batches, at most a second behind: poll for this one (no fixed wait).
    for (;;) {
      const res = await call("GET", "/api/audit", { token: auditor });
      expect(res.status).toBe(200);
      const events = res.body
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => JSON.parse(l) as AuditLine);
      const read = events.find((e) => e.event === "read.content" && e.payload.operation === "read_node");
      if (read) {
        expect(read).toMatchObject({
          actor: { type: "agent", id: agentId },
          payload: { nodeId: homeNode, resource: "nodes" },
        });
        const created = events.filter((e) => e.event === "node.created" && e.actor.type === "agent");
        expect(created.length).toBeGreaterThan(0);
        expect(created.every((e) => e.actor.id === agentId && e.payload.projectId === home)).toBe(true);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it("the agent's autonomy level decides which write tools it is offered; the domain refuses the rest", async () => {
    try {
      await setLevel("observe");
      const observing = await connect(writer);
      expect((await observing.listTools()).tools.map((t) => t.name)).toEqual(READ_TOOLS);
      const refused = (await observing.callTool({
        name: "create_node",
        arguments: { type: "idea", title: "At observe" },
      })) as CallToolResult;
      expect(refused.isError).toBe(true);

      await setLevel("advise");
      const advising = await connect(writer);
      expect((await advising.listTools()).tools.map((t) => t.name)).toEqual([...READ_TOOLS, "add_review_comment"]);

      await setLevel("assist");
      const assisting = await connect(writer);
      expect((await assisting.listTools()).tools.map((t) => t.name)).toEqual([...READ_TOOLS, ...CREATE_TOOLS]);
      const drafted = (await assisting.callTool({
        name: "create_node",
        arguments: { type: "idea", title: "Drafted by the agent" },
      })) as CallToolResult;
      expect(drafted.isError, textOf(drafted)).toBeFalsy();
      expect((drafted.structuredContent as { node: { draft: boolean } }).node.draft).toBe(true);
    } finally {
      await setLevel("automate");
    }
  });

  it("add_review_comment comments on a review only; request_summary summarises with the tenant's model and records the call", async () => {
    const review = (
      await ok<{ node: { id: string } }>(
        "POST",
        `/api/projects/${home}/nodes`,
        { type: "review", title: "Release signing review", reviewKind: "code" },
        201,
      )
    ).node.id;
    const client = await connect(writer);
    const commented = (await client.callTool({
      name: "add_review_comment",
      arguments: { nodeId: review, body: "The key rotation is not covered." },
    })) as CallToolResult;
    expect(commented.isError, textOf(commented)).toBeFalsy();
    const comments = await ok<{ comments: { body: string; author: { type: string } }[] }>(
      "GET",
      `/api/nodes/${review}/comments`,
    );
    expect(comments.comments.map((c) => c.body)).toContain("The key rotation is not covered.");
    const onIdea = (await client.callTool({
      name: "add_review_comment",
      arguments: { nodeId: homeNode, body: "Not a review." },
    })) as CallToolResult;
    expect(onIdea.isError).toBe(true);
    expect(textOf(onIdea)).toContain("go on reviews");

    const summarizer = await connect(await issueAgentToken(["self", "graph:read", "ai:invoke"]));
    const offered = (await summarizer.listTools()).tools;
    const summaryTool = offered.find((t) => t.name === "request_summary");
    expect(summaryTool?.annotations).toEqual({ readOnlyHint: true, openWorldHint: true });
    ollama.script({ reply: ["Signed ", "releases."] });
    const summary = (await summarizer.callTool({
      name: "request_summary",
      arguments: { nodeId: homeNode },
    })) as CallToolResult;
    expect(summary.isError, textOf(summary)).toBeFalsy();
    expect(summary.structuredContent).toMatchObject({ summary: "Signed releases.", provider: "ollama" });
    const [sent] = ollama.requestsTo("/api/chat");
    expect(JSON.stringify(sent?.body)).toContain("Adopt signed releases");
    const audit = await call("GET", "/api/audit?event=ai.invoked&format=jsonl", { token: admin });
    const events = audit.body
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as AuditLine);
    expect(events.at(-1)).toMatchObject({ actor: { type: "agent", id: agentId } });
  });
});
