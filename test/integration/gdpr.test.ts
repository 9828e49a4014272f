/** GDPR: export, rectification is edit (graph tests), erasure of a person and of a whole tenant. */
import { copyFileSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CryptoService } from "../../src/crypto/crypto-service.js";
import { keystorePath } from "../../src/db/db.js";
import { NODE_TYPES, type EdgeType, type NodeType } from "../../src/vocabulary/graph.js";
import { untar } from "../helpers.js";
import { identityFixture, STRONG_PASSWORD, type Fixture, type TenantAccount } from "../identity-fixture.js";
import { markdownStructure, unescapedPunctuation, unescapeMarkdown } from "../markdown-structure.js";

describe("GDPR", () => {
  let f: Fixture;
  let acme: TenantAccount;
  let admin: string;
  let projectId: string;
  let decisionId: string;

  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;
  const post = (path: string, body: unknown, token = admin): Promise<Response> => f.call("POST", path, { token, body });

  /** The Markdown export, fetched and unpacked: file name → text. */
  async function markdownFiles(tenant = acme, token = admin): Promise<Map<string, string>> {
    const res = await f.call("GET", `/api/tenants/${tenant.tenantId}/export?format=markdown`, { token });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/x-tar");
    return untar(Buffer.from(new Uint8Array(await res.arrayBuffer())));
  }

  beforeAll(async () => {
    f = await identityFixture();
    acme = await f.createTenant("gdpr-acme");
    admin = acme.admin.tokens.accessToken;
    projectId = (await json<{ project: { id: string } }>(await post("/api/projects", { name: "Portable" }))).project.id;
    const idea = (
      await json<{ node: { id: string } }>(
        await post(`/api/projects/${projectId}/nodes`, { type: "idea", title: "Let customers leave with their data" }),
      )
    ).node.id;
    decisionId = (
      await json<{ node: { id: string } }>(
        await post(`/api/projects/${projectId}/nodes`, {
          type: "decision",
          title: "Export as JSON and Markdown",
          body: "We chose both formats.",
          status: "accepted",
        }),
      )
    ).node.id;
    expect(
      (await post(`/api/projects/${projectId}/edges`, { type: "originates_from", from: decisionId, to: idea })).status,
    ).toBe(201);
  });
  afterAll(() => f.close());

  it("exports the complete tenant graph as JSON, decrypted", async () => {
    const res = await f.call("GET", `/api/tenants/${acme.tenantId}/export`, { token: admin });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toMatch(
      /attachment; filename="vecto-export-gdpr-acme-\d{4}-\d{2}-\d{2}\.json"/,
    );
    const doc = await json<{
      tenant: { slug: string };
      users: { email: string }[];
      projects: { name: string; nodes: { title: string; body: string }[]; edges: { type: string }[] }[];
    }>(res);
    expect(doc.tenant.slug).toBe("gdpr-acme");
    expect(doc.users.map((u) => u.email)).toContain(acme.admin.email);
    const project = doc.projects.find((p) => p.name === "Portable");
    expect(project?.nodes.map((n) => n.title).sort()).toEqual([
      "Export as JSON and Markdown",
      "Let customers leave with their data",
    ]);
    expect(project?.edges.map((e) => e.type)).toEqual(["originates_from"]);
  });

  it("exports Markdown files in a tar, decisions in ADR form", async () => {
    const files = await markdownFiles();
    const decision = files.get(`vecto-export/${projectId}/decision/${decisionId}.md`) ?? "";
    expect(decision).toContain("# Export as JSON and Markdown");
    expect(decision).toContain("## Status\n\naccepted");
    expect(decision).toContain("## Context and decision\n\n```markdown\nWe chose both formats.\n```\n");
    // A link points at the other node's file, relative to this one, and that file is in the export.
    const target = /- originates_from → \[([0-9a-f-]{36})\]\(\.\.\/(\w+)\/([0-9a-f-]{36})\.md\)/.exec(decision);
    expect(target?.[2]).toBe("idea");
    expect(target?.[1]).toBe(target?.[3]);
    expect(files.has(`vecto-export/${projectId}/idea/${target?.[3]}.md`)).toBe(true);
    expect(files.get(`vecto-export/${projectId}/project.md`)).toContain("# Portable");
  });

  it("Markdown export: every link of every file resolves to a file of the archive (several projects, every node and edge type, archived and erased nodes)", async () => {
    const tenant = await f.createTenant("gdpr-links");
    const token = tenant.admin.tokens.accessToken;
    const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await f.call(method, path, { token, ...(body === undefined ? {} : { body }) });
      expect(res.status, `${method} ${path}`).toBeLessThan(300);
      return res.status === 204 ? (undefined as T) : json<T>(res);
    };
    expect(
      (
        await f.call("POST", "/api/secrets", {
          token,
          body: { name: "smtp_password", value: "s3cret-value", description: "mail relay" },
        })
      ).status,
    ).toBe(201);
    const erased: string[] = [];
    for (const name of ["Alpha", "Beta", "Gamma"]) {
      const pid = (await call<{ project: { id: string } }>("POST", "/api/projects", { name })).project.id;
      const node = async (type: NodeType, title: string): Promise<string> =>
        (await call<{ node: { id: string } }>("POST", `/api/projects/${pid}/nodes`, { type, title, body: "plain" }))
          .node.id;
      const ids = Object.fromEntries(
        await Promise.all(NODE_TYPES.map(async (type) => [type, await node(type, `${name} ${type}`)] as const)),
      ) as Record<NodeType, string>;
      const older = await node("decision", `${name} older decision`);
      const gone = await node("idea", `${name} idea to erase`);
      // Every edge type once; every node type at the from end of one edge and the to end of another.
      const edges: [EdgeType, string, string][] = [
        ["originates_from", ids.decision, ids.idea],
        ["decided_by", ids.task, ids.decision],
        ["reviewed_in", ids.decision, ids.review],
        ["implements", ids.task, older],
        ["ships_in", ids.task, ids.release],
        ["supersedes", ids.decision, older],
        ["blocks", ids.review, ids.note],
        ["duplicates", ids.note, ids.idea],
        ["relates", ids.idea, ids.task],
        ["parent_of", ids.release, ids.review],
        ["relates", gone, ids.note],
      ];
      for (const [type, from, to] of edges) await call("POST", `/api/projects/${pid}/edges`, { type, from, to });
      await call("DELETE", `/api/nodes/${ids.review}`); // archived: exported, its links kept
      await call("DELETE", `/api/nodes/${gone}`);
      await call("POST", `/api/nodes/${gone}/erase`, { reason: "GDPR request 42" }); // erased: gone with its edges
      erased.push(gone);
      if (name === "Gamma") await call("DELETE", `/api/projects/${pid}`); // an archived project is exported too
    }

    const files = await markdownFiles(tenant, token);
    const exported = await call<{
      projects: { id: string; nodes: { id: string; type: string }[]; edges: { from: string; to: string }[] }[];
    }>("GET", `/api/tenants/${tenant.tenantId}/export`);
    expect(exported.projects).toHaveLength(3);
    expect(files.has("vecto-export/secrets.md")).toBe(true);
    let links = 0;
    for (const [name, text] of files) {
      // Bodies are fenced and tenant text escaped: the only "](" left are the export's own links.
      for (const [, label, href] of text.matchAll(/\[([^\]]*)\]\(([^)]*)\)/g)) {
        links += 1;
        expect(href, `${name}: ${href}`).not.toMatch(/^(\/|[a-z]+:)/);
        const target = posix.join(posix.dirname(name), href ?? "");
        expect(files.has(target), `${name} links to ${href}, which resolves to ${target}: not in the archive`).toBe(
          true,
        );
        expect(files.get(target), `${name} → ${target}`).toMatch(new RegExp(`^---\nid: "${label}"\n`));
      }
    }
    // Each edge is a link in the files at both of its ends, and nothing links to an erased node.
    const edgeCount = exported.projects.reduce((n, p) => n + p.edges.length, 0);
    expect(edgeCount).toBe(30);
    expect(links).toBe(2 * edgeCount);
    for (const p of exported.projects)
      for (const n of p.nodes) expect(files.has(`vecto-export/${p.id}/${n.type}/${n.id}.md`)).toBe(true);
    for (const id of erased) expect([...files.values()].some((text) => text.includes(id))).toBe(false);
  }, 120_000);

  it("Markdown export: hostile titles, names and bodies stay content, never structure", async () => {
    const title = "# Owned [x](javascript:alert(1)) <script>alert(1)</script> | a | b ##";
    const body = "---\ntitle: injected\n---\n# Heading in the body\n```\n<script>alert(1)</script>\n````\n";
    const hostileProject = (
      await json<{ project: { id: string } }>(await post("/api/projects", { name: "# Project <b>bold</b> [x](y)" }))
    ).project.id;
    const nodeId = (
      await json<{ node: { id: string } }>(
        await post(`/api/projects/${hostileProject}/nodes`, { type: "decision", title, body }),
      )
    ).node.id;
    const files = await markdownFiles();

    const decision = markdownStructure(files.get(`vecto-export/${hostileProject}/decision/${nodeId}.md`) ?? "");
    expect(decision.frontMatter?.map((l) => l.split(":")[0])).toEqual([
      "id",
      "type",
      "status",
      "author",
      "version",
      "created",
      "updated",
    ]);
    expect(decision.headings).toHaveLength(3);
    expect(unescapeMarkdown(decision.headings[0] ?? "")).toBe(`# ${title}`);
    expect(unescapedPunctuation((decision.headings[0] ?? "").slice(2))).toEqual([]);
    expect(decision.headings.slice(1)).toEqual(["## Status", "## Context and decision"]);
    expect(decision.fences).toEqual([body.slice(0, -1)]);
    expect(decision.htmlBlocks).toEqual([]);

    const project = markdownStructure(files.get(`vecto-export/${hostileProject}/project.md`) ?? "");
    expect(project.headings).toEqual(["# \\# Project \\<b\\>bold\\<\\/b\\> \\[x\\]\\(y\\)", "## Members"]);
  });

  it("lets only the tenant's own admin export it", async () => {
    const other = await f.createTenant("gdpr-other");
    const member = await f.createUser(acme.admin, { role: "member" }, "gdpr-acme");
    expect(
      (await f.call("GET", `/api/tenants/${acme.tenantId}/export`, { token: other.admin.tokens.accessToken })).status,
    ).toBe(404);
    expect(
      (await f.call("GET", `/api/tenants/${acme.tenantId}/export`, { token: member.tokens.accessToken })).status,
    ).toBe(403);
    expect(
      (await f.call("GET", `/api/tenants/${acme.tenantId}/export`, { token: f.root.tokens.accessToken })).status,
    ).toBe(403);
  });

  it("erases a person: pseudonymised, signed out for good, id kept for provenance", async () => {
    const person = await f.createUser(acme.admin, { role: "member", email: "ada.lovelace@example.test" }, "gdpr-acme");
    await f.call("PUT", `/api/projects/${projectId}/members/${person.id}`, { token: admin, body: { role: "editor" } });
    const authored = (
      await json<{ node: { id: string } }>(
        await post(
          `/api/projects/${projectId}/nodes`,
          { type: "note", title: "Ada's note" },
          person.tokens.accessToken,
        ),
      )
    ).node.id;
    expect((await post(`/api/users/${person.id}/erase`, {})).status).toBe(204);
    const view = (
      await json<{ user: { email: string; name: string; status: string } }>(
        await f.call("GET", `/api/users/${person.id}`, { token: admin }),
      )
    ).user;
    expect(view).toEqual(
      expect.objectContaining({ email: `erased-${person.id}@erased.invalid`, name: "Erased user", status: "disabled" }),
    );
    expect((await f.call("GET", "/api/me", { token: person.tokens.accessToken })).status).toBe(401);
    expect((await f.login("gdpr-acme", "ada.lovelace@example.test", STRONG_PASSWORD)).status).toBe(401);
    expect(
      (
        await json<{ node: { author: { id: string } } }>(
          await f.call("GET", `/api/nodes/${authored}`, { token: admin }),
        )
      ).node.author.id,
    ).toBe(person.id);
    // The old email is free again: the blind index no longer points at the erased row.
    expect(
      (
        await post("/api/users", {
          email: "ada.lovelace@example.test",
          name: "Another Ada",
          role: "viewer",
          password: STRONG_PASSWORD,
        })
      ).status,
    ).toBe(201);
  });

  it("erases a tenant by destroying its keys: neither the live files nor an earlier data backup yield its content", async () => {
    const doomed = await f.createTenant("gdpr-doomed");
    const token = doomed.admin.tokens.accessToken;
    const pid = (await json<{ project: { id: string } }>(await post("/api/projects", { name: "Doomed" }, token)))
      .project.id;
    const nodeId = (
      await json<{ node: { id: string } }>(
        await post(
          `/api/projects/${pid}/nodes`,
          { type: "idea", title: "Merger plan codename HEATHER", body: "confidential" },
          token,
        ),
      )
    ).node.id;
    const db = f.services.db;
    const file = join(f.dataDir, "vecto.db");
    const wrapped = db.keystore
      .listTenantKeys(doomed.tenantId)
      .flatMap((k) => k.wraps.map((w) => Buffer.from(w.wrapped)));
    expect(wrapped.length).toBeGreaterThan(0);
    db.checkpoint();
    const backup = `${file}.earlier-backup`;
    copyFileSync(file, backup); // an earlier data backup: data only, no keys (ADR 0002)

    expect(
      (await post(`/api/tenants/${doomed.tenantId}/erase`, { confirm: "wrong-slug" }, f.root.tokens.accessToken))
        .status,
    ).toBe(422);
    const erased = await post(
      `/api/tenants/${doomed.tenantId}/erase`,
      { confirm: "gdpr-doomed" },
      f.root.tokens.accessToken,
    );
    expect(erased.status).toBe(200);
    expect(await json(erased)).toEqual({ keysDestroyed: wrapped.length });

    expect((await f.call("GET", `/api/tenants/${doomed.tenantId}`, { token: f.root.tokens.accessToken })).status).toBe(
      404,
    );
    expect((await f.call("GET", "/api/me", { token })).status).toBe(401);
    expect(db.keystore.listTenantKeys(doomed.tenantId)).toEqual([]);
    for (const live of [file, keystorePath(file)]) {
      const bytes = readFileSync(live);
      for (const key of wrapped) expect(bytes.includes(key), `${live} still holds a wrapped key`).toBe(false);
    }
    // The earlier backup still has the ciphertext, but no key anywhere opens it any more.
    const old = new BetterSqlite3(backup, { readonly: true });
    const row = old
      .prepare("SELECT title_enc FROM nodes WHERE tenant_id = ? AND id = ?")
      .get(doomed.tenantId, nodeId) as { title_enc: Buffer } | undefined;
    old.close();
    expect(row).toBeDefined();
    const fresh = new CryptoService(f.services.resolver, db.keystore);
    await expect(
      fresh.decryptField(
        doomed.tenantId,
        { table: "nodes", column: "title", rowId: nodeId },
        new Uint8Array(row?.title_enc ?? []),
      ),
    ).rejects.toThrow(/no data key/);
    expect(readFileSync(backup).includes(Buffer.from("HEATHER"))).toBe(false);
    // Everyone else is untouched.
    expect((await f.call("GET", `/api/nodes/${decisionId}`, { token: admin })).status).toBe(200);
  });
});
