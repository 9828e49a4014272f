/**
 * The baseline of bench/http.bench.ts: the least a Node server can do for "create a node" and
 * "read a node" with the product's transport and storage, and nothing else. Hono behind
 * @hono/node-server on node:https with the SAME certificate and key files the appliance serves,
 * TLS 1.3 only (src/server/listen.ts); better-sqlite3 with the SAME pragmas (src/db/sqlite.ts);
 * one IMMEDIATE transaction per insert (src/db/write-path.ts). No authentication, encryption,
 * audit, logging, rate limiting or validation beyond the shape: the ratio real/bare is what those
 * cost together.
 *
 * Run as its own process: `node --import tsx bench/http/bare-server.ts` with BARE_CERT, BARE_KEY,
 * BARE_DB and BARE_PORT set; prints one line "bare listening <port>" once it accepts connections.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import { getRequestListener } from "@hono/node-server";
import BetterSqlite3 from "better-sqlite3";
import { Hono } from "hono";

function setting(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`bare-server: ${name} is not set`);
  return value;
}

function openDatabase(file: string): BetterSqlite3.Database {
  const db = new BetterSqlite3(file, { timeout: 5000 });
  // The appliance's pragmas, in its order (src/db/sqlite.ts).
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("secure_delete = ON");
  db.exec(`CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL,
    title TEXT NOT NULL, body TEXT NOT NULL, author_id TEXT NOT NULL, version INTEGER NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`);
  return db;
}

interface Row {
  readonly id: string;
  readonly project_id: string;
  readonly type: string;
  readonly status: string;
  readonly title: string;
  readonly body: string;
  readonly author_id: string;
  readonly version: number;
  readonly created_at: string;
  readonly updated_at: string;
}

/** The same fields as the appliance's NodeView, so that answers are of similar size. */
function view(row: Row): Record<string, unknown> {
  return {
    id: row.id,
    projectId: row.project_id,
    type: row.type,
    status: row.status,
    reviewKind: null,
    verdict: null,
    title: row.title,
    body: row.body,
    author: { type: "human", id: row.author_id },
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    archivedAt: null,
  };
}

function app(db: BetterSqlite3.Database): Hono {
  // Prepared once: the baseline is what a careful hand-written server does.
  const insert = db.prepare(
    "INSERT INTO nodes (id, project_id, type, status, title, body, author_id, version, created_at, updated_at) VALUES (@id, @project_id, @type, @status, @title, @body, @author_id, @version, @created_at, @updated_at)",
  );
  const byId = db.prepare("SELECT * FROM nodes WHERE id = ?");
  // One IMMEDIATE transaction per insert, as the appliance's write path opens one per request.
  const create = db.transaction((row: Row) => insert.run(row));
  const authorId = randomUUID();
  const hono = new Hono();
  hono.post("/projects/:projectId/nodes", async (c) => {
    const input = (await c.req.json()) as { type?: unknown; title?: unknown; body?: unknown };
    if (typeof input.type !== "string" || typeof input.title !== "string" || typeof input.body !== "string")
      return c.json({ error: "type, title and body are strings" }, 422);
    const now = new Date().toISOString();
    const row: Row = {
      id: randomUUID(),
      project_id: c.req.param("projectId"),
      type: input.type,
      status: "open",
      title: input.title,
      body: input.body,
      author_id: authorId,
      version: 1,
      created_at: now,
      updated_at: now,
    };
    create.immediate(row);
    return c.json({ node: view(row) }, 201);
  });
  // For the bench's wait until it serves, like the appliance's /readyz.
  hono.get("/readyz", (c) => c.json({ status: "ready" }));
  hono.get("/nodes/:nodeId", (c) => {
    const row = byId.get(c.req.param("nodeId")) as Row | undefined;
    return row === undefined ? c.json({ error: "not found" }, 404) : c.json({ node: view(row) });
  });
  return hono;
}

function main(): void {
  const db = openDatabase(setting("BARE_DB"));
  const server = createServer(
    {
      cert: readFileSync(setting("BARE_CERT")),
      key: readFileSync(setting("BARE_KEY")),
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
    },
    getRequestListener(app(db).fetch),
  );
  server.listen(Number(setting("BARE_PORT")), "127.0.0.1", () => {
    console.log(`bare listening ${setting("BARE_PORT")}`);
  });
  process.on("SIGTERM", () => server.close(() => db.close()));
}

main();
