/**
 * GDPR data portability (datasheet section 9): the complete graph of a tenant, decrypted, as
 * one JSON document or as a tar of Markdown files (one per node; decisions in ADR form). Both
 * are produced as streams, page by page, so a large tenant never sits in memory at once.
 * Tenant secrets appear as metadata only (name, description, version, dates): their values are
 * write-only and leave the appliance in no export (docs/secrets.md).
 */
import { posix } from "node:path";
import { Readable } from "node:stream";
import { pack } from "tar-stream";
import { toUserView, type UserView } from "../auth/accounts.js";
import { actorOf, type Principal } from "../auth/principal.js";
import { tenantView } from "../auth/tenant-names.js";
import type { TenantDb } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";
import { secretMetadata, type SecretView } from "../secrets/secrets.js";
import { toEdgeView, type EdgeView } from "./edges.js";
import { fencedBlock, frontMatter, inlineText } from "./markdown.js";
import { toNodeView, type NodeView } from "./nodes.js";
import type { GraphDeps } from "./projects.js";
import { EDGE_RULES } from "../vocabulary/graph.js";

const PAGE = 200;

interface ExportedProject {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly createdAt: string;
  readonly members: { userId: string; role: string }[];
}

/** Only the tenant's own admin exports it; anyone else, including the platform root, cannot reach the route. */
function checkExportAllowed(tenantDb: TenantDb, principal: Principal, tenantId: string): void {
  if (tenantId !== tenantDb.tenantId || principal.role !== "tenant_admin" || principal.projectId !== null)
    throw new DomainError("not-found", "no such tenant");
}

export interface TenantExport {
  readonly body: Readable;
  readonly contentType: string;
  readonly filename: string;
}

/**
 * Checks who asks and that the tenant's keys open (so an unavailable key is a 503 before the first
 * byte, not a cut-off 200), records the export in the audit trail, and returns the stream to send.
 */
export async function exportTenant(
  deps: GraphDeps,
  tenantDb: TenantDb,
  principal: Principal,
  tenantId: string,
  format: "json" | "markdown",
): Promise<TenantExport> {
  checkExportAllowed(tenantDb, principal, tenantId);
  await deps.crypto.checkTenantKeys(tenantDb.tenantId);
  deps.events.emit({
    event: "tenant.exported",
    sensitivity: "security",
    severity: "info",
    tenantId: tenantDb.tenantId,
    actor: actorOf(principal),
    payload: { format },
  });
  const stamp = new Date().toISOString().slice(0, 10);
  const slug = tenantDb.tenant.get()?.slug ?? "tenant";
  if (format === "json") {
    return {
      body: Readable.from(jsonExport(deps, tenantDb), { objectMode: false }),
      contentType: "application/json",
      filename: `vecto-export-${slug}-${stamp}.json`,
    };
  }
  return {
    body: Readable.from(markdownExport(deps, tenantDb)),
    contentType: "application/x-tar",
    filename: `vecto-export-${slug}-${stamp}.tar`,
  };
}

async function* users(deps: GraphDeps, tenantDb: TenantDb): AsyncGenerator<UserView> {
  for (let after: string | undefined; ;) {
    const page = tenantDb.users.list(after, PAGE);
    for (const user of page) yield toUserView(deps.crypto, user);
    if (page.length < PAGE) return;
    after = page.at(-1)?.id;
  }
}

async function* projects(deps: GraphDeps, tenantDb: TenantDb): AsyncGenerator<ExportedProject> {
  for (let after: string | undefined; ;) {
    const page = tenantDb.projects.list(after, PAGE);
    for (const p of page) {
      const name = await deps.crypto.decryptField(
        p.tenantId,
        { table: "projects", column: "name", rowId: p.id },
        p.nameEnc,
      );
      yield {
        id: p.id,
        name,
        status: p.status,
        createdAt: p.createdAt,
        members: tenantDb.projects.members(p.id).map((m) => ({ userId: m.userId, role: m.role })),
      };
    }
    if (page.length < PAGE) return;
    after = page.at(-1)?.id;
  }
}

async function* nodes(deps: GraphDeps, tenantDb: TenantDb, projectId: string): AsyncGenerator<NodeView> {
  for (let after: { updatedAt: string; id: string } | undefined; ;) {
    const page = tenantDb.nodes.list(projectId, { includeArchived: true, limit: PAGE, ...(after ? { after } : {}) });
    for (const node of page) yield toNodeView(deps, node);
    const last = page.at(-1);
    if (page.length < PAGE || !last) return;
    after = { updatedAt: last.updatedAt, id: last.id };
  }
}

/** A node's comments in the clear, oldest first. */
async function commentsOf(deps: GraphDeps, tenantDb: TenantDb, nodeId: string): Promise<ExportedComment[]> {
  const out: ExportedComment[] = [];
  for (let after: { createdAt: string; id: string } | undefined; ;) {
    const page = tenantDb.comments.forNode(nodeId, after, PAGE);
    for (const c of page)
      out.push({
        id: c.id,
        author: { type: c.authorType, id: c.authorId },
        createdAt: c.createdAt,
        body: await deps.crypto.decryptField(c.tenantId, { table: "comments", column: "body", rowId: c.id }, c.bodyEnc),
      });
    const last = page.at(-1);
    if (page.length < PAGE || !last) return out;
    after = { createdAt: last.createdAt, id: last.id };
  }
}

interface ExportedComment {
  readonly id: string;
  readonly author: { readonly type: "human" | "agent"; readonly id: string };
  readonly createdAt: string;
  readonly body: string;
}

function* edges(tenantDb: TenantDb, projectId: string): Generator<EdgeView> {
  for (let after: string | undefined; ;) {
    const page = tenantDb.edges.listForProject(projectId, after, PAGE);
    for (const edge of page) yield toEdgeView(edge);
    if (page.length < PAGE) return;
    after = page.at(-1)?.id;
  }
}

/** The JSON export as chunks of text: { tenant, exportedAt, users, projects: [{ …, nodes (with comments), edges }] }. */
export async function* jsonExport(deps: GraphDeps, tenantDb: TenantDb): AsyncGenerator<string> {
  const stored = tenantDb.tenant.get();
  const tenant = stored === undefined ? undefined : await tenantView(deps.crypto, stored);
  const exportedAt = JSON.stringify(new Date().toISOString());
  const tenantJson = JSON.stringify({ id: tenant?.id, slug: tenant?.slug, name: tenant?.name });
  yield `{"format":"vecto-tenant-export/1","exportedAt":${exportedAt},"tenant":${tenantJson},"users":[`;
  let first = true;
  for await (const user of users(deps, tenantDb)) {
    yield (first ? "" : ",") + JSON.stringify(user);
    first = false;
  }
  yield `],"secrets":[`;
  first = true;
  for await (const secret of secretMetadata(deps, tenantDb, PAGE)) {
    yield (first ? "" : ",") + JSON.stringify(secret);
    first = false;
  }
  yield `],"projects":[`;
  first = true;
  for await (const project of projects(deps, tenantDb)) {
    yield `${first ? "" : ","}${JSON.stringify(project).slice(0, -1)},"nodes":[`;
    first = false;
    let firstNode = true;
    for await (const node of nodes(deps, tenantDb, project.id)) {
      yield (firstNode ? "" : ",") + JSON.stringify({ ...node, comments: await commentsOf(deps, tenantDb, node.id) });
      firstNode = false;
    }
    yield `],"edges":${JSON.stringify([...edges(tenantDb, project.id)])}}`;
  }
  yield "]}\n";
}

/** Where a node's file sits in the Markdown export, below its top directory. */
export function nodeFile(node: { readonly projectId: string; readonly type: string; readonly id: string }): string {
  return `${node.projectId}/${node.type}/${node.id}.md`;
}

/**
 * A node as Markdown; a decision in ADR form (Status, Context/Decision body, Links). A link points
 * at the other node's file relative to this one; `files` gives the files (nodeFile) of the linked
 * nodes that the export holds. A node not in it is named by its id in plain text, never a dead link.
 */
export function nodeMarkdown(node: NodeView, links: readonly EdgeView[], files: ReadonlyMap<string, string>): string {
  const meta = frontMatter({
    id: node.id,
    type: node.type,
    status: node.status,
    reviewKind: node.reviewKind,
    verdict: node.verdict,
    author: `${node.author.type}:${node.author.id}`,
    version: node.version,
    created: node.createdAt,
    updated: node.updatedAt,
    archived: node.archivedAt,
    // Only drafts say so: a draft has not taken effect (docs/agents.md).
    draft: node.draft ? "true" : null,
  });
  // From <project>/<type>/: up to the project, then down ("../<type>/<id>.md" within the project).
  const project = posix.dirname(posix.dirname(nodeFile(node)));
  const target = (id: string): string => {
    const file = files.get(id);
    return file === undefined ? id : `[${id}](${posix.join("..", posix.relative(project, file))})`;
  };
  // Each link says who made it, a person or an agent, as the front matter says of the node's author.
  const linkLines = links.map(
    (e) =>
      (e.from === node.id ? `- ${e.type} → ${target(e.to)}` : `- ${EDGE_RULES[e.type].inverse} → ${target(e.from)}`) +
      ` (by ${e.createdByType}:${e.createdBy})` +
      (e.draft ? " (draft)" : ""),
  );
  const linkSection = linkLines.length > 0 ? `\n## Links\n\n${linkLines.join("\n")}\n` : "";
  // Title and body are tenant text: the title is escaped, the body fenced (src/graph/markdown.ts).
  const heading = `# ${inlineText(node.title)}\n`;
  const body = node.body === "" ? "" : `\n${fencedBlock(node.body, "markdown")}`;
  if (node.type === "decision") {
    return `${meta}${heading}\n## Status\n\n${node.status}\n\n## Context and decision\n${body}${linkSection}`;
  }
  return `${meta}${heading}${body}${linkSection}`;
}

/** The secrets' metadata as one Markdown table (no values: they are never exported). */
export function secretsMarkdown(secrets: readonly SecretView[]): string {
  const cell = (text: string | null): string => inlineText((text ?? "").replace(/\s+/g, " "));
  const rows = secrets.map(
    (s) => `| ${cell(s.name)} | ${cell(s.description)} | ${s.version} | ${s.createdAt} | ${s.rotatedAt} |`,
  );
  return (
    `# Secrets\n\nValues are write-only and not part of any export; enter them again where they are ` +
    `needed.\n\n| name | description | version | created | rotated |\n| --- | --- | --- | --- | --- ` +
    `|\n${rows.join("\n")}\n`
  );
}

/**
 * The Markdown export: a tar stream of `secrets.md`, `<project-id>/project.md` and `<project-id>/<type>/<node-id>.md`.
 */
export function markdownExport(deps: GraphDeps, tenantDb: TenantDb): NodeJS.ReadableStream {
  const tar = pack();
  const add = (name: string, text: string): Promise<void> =>
    new Promise((resolve, reject) =>
      tar.entry({ name: `vecto-export/${name}`, mode: 0o644, mtime: new Date() }, text, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  const fill = async (): Promise<void> => {
    const secrets: SecretView[] = [];
    for await (const secret of secretMetadata(deps, tenantDb, PAGE)) secrets.push(secret);
    await add("secrets.md", secretsMarkdown(secrets));
    for await (const project of projects(deps, tenantDb)) {
      await add(
        `${project.id}/project.md`,
        `${frontMatter({ id: project.id, status: project.status, created: project.createdAt })}# ` +
          `${inlineText(project.name)}\n\n## ` +
          `Members\n\n${project.members.map((m) => `- ${m.userId} (${m.role})`).join("\n")}\n`,
      );
      const projectEdges = [...edges(tenantDb, project.id)];
      // Every node of this project is written below (archived ones too); an edge never leaves its
      // project, and a node of another project would not be linked: its file is not known here.
      const linked = tenantDb.nodes
        .getMany([...new Set(projectEdges.flatMap((e) => [e.from, e.to]))])
        .filter((n) => n.projectId === project.id);
      const files = new Map(linked.map((n) => [n.id, nodeFile(n)]));
      for await (const node of nodes(deps, tenantDb, project.id)) {
        await add(
          nodeFile(node),
          nodeMarkdown(
            node,
            projectEdges.filter((e) => e.from === node.id || e.to === node.id),
            files,
          ),
        );
      }
    }
    tar.finalize();
  };
  fill().catch((error: unknown) => tar.destroy(error instanceof Error ? error : new Error("export failed")));
  return tar;
}
