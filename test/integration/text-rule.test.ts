/**
 * The one text rule (src/text.ts, docs/graph.md "Text"), through the real API: text the rule
 * refuses is a 422 naming the field and writes nothing; text it accepts reads back exactly as sent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { identityFixture, STRONG_PASSWORD, type Fixture, type TenantAccount } from "../identity-fixture.js";

interface Problem {
  type: string;
  status: number;
  detail: string;
  errors: { path: string; message: string }[];
}

const LONE = "contains a lone surrogate (ill-formed Unicode)";

describe("one text rule for every stored text", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let admin: string;
  let projectId: string;

  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  /** Sends the body exactly as written: the JSON text itself, escapes and all. */
  const raw = (method: string, path: string, text: string, token = admin): Promise<Response> =>
    Promise.resolve(
      f.app.request(path, {
        method,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: text,
      }),
    );
  const nodeCount = async (): Promise<number> =>
    (
      await json<{ nodes: unknown[] }>(
        await f.call("GET", `/api/projects/${projectId}/nodes?includeArchived=true&limit=500`, { token: admin }),
      )
    ).nodes.length;
  const auditLines = async (event: string): Promise<number> =>
    (await (await f.call("GET", `/api/audit?event=${event}`, { token: admin })).text())
      .split("\n")
      .filter((l) => l !== "").length;

  async function expectRefused(res: Response, path: string, message: string | RegExp = LONE): Promise<void> {
    expect(res.status, `${path}: ${res.status}`).toBe(422);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const problem = await json<Problem>(res);
    expect(problem.type).toBe("urn:vecto:problem:validation-failed");
    expect(problem.errors).toContainEqual({
      path,
      message: typeof message === "string" ? message : (expect.stringMatching(message) as unknown as string),
    });
  }

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("text-acme");
    admin = acme.admin.tokens.accessToken;
    projectId = (
      await json<{ project: { id: string } }>(
        await f.call("POST", "/api/projects", { token: admin, body: { name: "Text" } }),
      )
    ).project.id;
  });
  afterAll(() => f.close());

  it("JSON.stringify writes a lone surrogate as the escape \\ud800 (so the tests below send exactly that)", () => {
    expect(JSON.stringify({ title: "x\ud800y" })).toBe('{"title":"x\\ud800y"}');
  });

  it("a node title with a lone surrogate is a 422 naming the field, and nothing is written or audited", async () => {
    const nodesBefore = await nodeCount();
    const eventsBefore = await auditLines("node.created");
    await expectRefused(
      await raw("POST", `/api/projects/${projectId}/nodes`, '{"type":"idea","title":"x\\ud800y"}'),
      "title",
    );
    await expectRefused(
      await raw("POST", `/api/projects/${projectId}/nodes`, '{"type":"idea","title":"low \\udc00 half"}'),
      "title",
    );
    await expectRefused(
      await raw("POST", `/api/projects/${projectId}/nodes`, '{"type":"idea","title":"ok","body":"x\\ud800y"}'),
      "body",
    );
    expect(await nodeCount()).toBe(nodesBefore);
    expect(await auditLines("node.created")).toBe(eventsBefore);
    // The two counters do count: one accepted write moves each by one.
    expect(
      (await raw("POST", `/api/projects/${projectId}/nodes`, '{"type":"idea","title":"x\\ud83d\\ude00y"}')).status,
    ).toBe(201);
    expect(await nodeCount()).toBe(nodesBefore + 1);
    expect(await auditLines("node.created")).toBe(eventsBefore + 1);
  });

  it("an edit with a lone surrogate changes nothing: the node keeps its version and text", async () => {
    const created = await json<{ node: { id: string; title: string; version: number } }>(
      await f.call("POST", `/api/projects/${projectId}/nodes`, {
        token: admin,
        body: { type: "note", title: "Before" },
      }),
    );
    const eventsBefore = await auditLines("node.updated");
    await expectRefused(await raw("PATCH", `/api/nodes/${created.node.id}`, '{"title":"After \\ud800"}'), "title");
    const now = await json<{ node: { title: string; version: number } }>(
      await f.call("GET", `/api/nodes/${created.node.id}`, { token: admin }),
    );
    expect(now.node).toMatchObject({ title: "Before", version: 1 });
    expect(await auditLines("node.updated")).toBe(eventsBefore);
  });

  it("titles are single-line and free of controls; bodies are multi-line but free of NUL and bare CR", async () => {
    const post = (body: unknown): Promise<Response> =>
      f.call("POST", `/api/projects/${projectId}/nodes`, { token: admin, body });
    await expectRefused(await post({ type: "idea", title: "Line one\nline two" }), "title", /single line/);
    await expectRefused(await post({ type: "idea", title: "Tab\there" }), "title", /U\+0009/);
    await expectRefused(await post({ type: "idea", title: "nul\u0000" }), "title", /U\+0000/);
    await expectRefused(await post({ type: "idea", title: "esc\u001b[31m" }), "title", /U\+001B/);
    await expectRefused(await post({ type: "idea", title: "del\u007f" }), "title", /U\+007F/);
    await expectRefused(
      await post({ type: "idea", title: "Invoice \u202Efdp.exe" }),
      "title",
      /bidirectional control U\+202E/,
    );
    await expectRefused(await post({ type: "idea", title: "ok", body: "a\u0000b" }), "body", /U\+0000/);
    await expectRefused(await post({ type: "idea", title: "ok", body: "overwrite\rme" }), "body", /carriage return/);
  });

  it("text the rule accepts reads back byte for byte: emoji, combining marks, RTL, tabs and CRLF in a body", async () => {
    const title = "Ship 👩🏽‍💻 to 🇩🇪 — café (e\u0301) שלום 𝔘";
    const body = "Line one\r\nLine two\n\tindented — 😀\n\u202Bmixed עברית\u202C\n";
    const created = await json<{ node: { id: string; title: string; body: string } }>(
      await f.call("POST", `/api/projects/${projectId}/nodes`, { token: admin, body: { type: "idea", title, body } }),
    );
    expect(created.node.title).toBe(title);
    expect(created.node.body).toBe(body);
    const read = await f.call("GET", `/api/nodes/${created.node.id}`, { token: admin });
    const text = await read.text();
    expect(Buffer.from(text, "utf8").includes(Buffer.from(JSON.stringify(title).slice(1, -1), "utf8"))).toBe(true);
    expect((JSON.parse(text) as { node: { title: string; body: string } }).node).toMatchObject({ title, body });
  });

  it("project, tenant and user names, token names and secret descriptions follow the same rule", async () => {
    await expectRefused(await raw("POST", "/api/projects", '{"name":"x\\ud800y"}'), "name");
    await expectRefused(
      await f.call("POST", "/api/projects", { token: admin, body: { name: "two\nlines" } }),
      "name",
      /single line/,
    );
    await expectRefused(await raw("PATCH", `/api/projects/${projectId}`, '{"name":"x\\udfffy"}'), "name");

    const root = f.root.tokens.accessToken;
    await expectRefused(
      await raw(
        "POST",
        "/api/tenants",
        `{"slug":"text-bad","name":"x\\ud800y","admin":{"email":"t@example.test","name":"Admin","password":"${STRONG_PASSWORD}"}}`,
        root,
      ),
      "name",
    );
    await expectRefused(
      await raw(
        "POST",
        "/api/tenants",
        `{"slug":"text-bad","name":"Fine","admin":{"email":"t@example.test","name":"Ad\\u0000min","password":"${STRONG_PASSWORD}"}}`,
        root,
      ),
      "admin.name",
      /U\+0000/,
    );
    await expectRefused(await raw("PATCH", `/api/tenants/${acme.tenantId}`, '{"name":"x\\ud800y"}', root), "name");
    expect(
      (
        await f
          .call("GET", "/api/tenants?limit=500", { token: root })
          .then((r) => json<{ tenants: { slug: string }[] }>(r))
      ).tenants.map((t) => t.slug),
    ).not.toContain("text-bad");

    await expectRefused(
      await raw(
        "POST",
        "/api/users",
        `{"email":"u@example.test","name":"x\\ud800y","role":"member","password":"${STRONG_PASSWORD}"}`,
      ),
      "name",
    );
    await expectRefused(
      await f.call("POST", "/api/users", {
        token: admin,
        body: { email: "u@example.test", name: "\u202Enimda", role: "member", password: STRONG_PASSWORD },
      }),
      "name",
      /bidirectional/,
    );
    await expectRefused(await raw("PATCH", `/api/users/${acme.admin.id}`, '{"name":"x\\ud800y"}'), "name");
    await expectRefused(
      await raw(
        "POST",
        "/api/tokens",
        '{"name":"x\\ud800y","scopes":["graph:read"],"expiresAt":"2099-01-01T00:00:00Z"}',
      ),
      "name",
    );

    await expectRefused(
      await raw("POST", "/api/secrets", '{"name":"api-key","value":"v","description":"x\\ud800y"}'),
      "description",
    );
    await expectRefused(
      await raw("POST", "/api/secrets", '{"name":"api\\ud800key","value":"v"}'),
      "name",
      /name must be/,
    );
    expect((await json<{ secrets: unknown[] }>(await f.call("GET", "/api/secrets", { token: admin }))).secrets).toEqual(
      [],
    );
  });

  it("a secret name in the path obeys the same rule: one that breaks it names nothing (404)", async () => {
    expect(
      (await f.call("POST", "/api/secrets", { token: admin, body: { name: "path-key", value: "v" } })).status,
    ).toBe(201);
    for (const name of ["path-key%00", "path%ED%A0%80key", "path-key%0A", "%E2%80%AEpath-key"]) {
      const res = await f.call("PUT", `/api/secrets/${name}`, { token: admin, body: { value: "w" } });
      expect(res.status, name).toBe(404);
    }
    expect((await f.call("PUT", "/api/secrets/path-key", { token: admin, body: { value: "w" } })).status).toBe(200);
  });

  it("names are trimmed of surrounding spaces before they are stored, and the answer shows the stored value", async () => {
    const created = await json<{ project: { id: string; name: string } }>(
      await f.call("POST", "/api/projects", { token: admin, body: { name: "  Spaced  " } }),
    );
    expect(created.project.name).toBe("Spaced");
    expect(
      (
        await json<{ project: { name: string } }>(
          await f.call("GET", `/api/projects/${created.project.id}`, { token: admin }),
        )
      ).project.name,
    ).toBe("Spaced");
  });
});
