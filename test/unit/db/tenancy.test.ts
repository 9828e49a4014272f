/**
 * Tenant isolation at the data-access layer (datasheet 4.1): every SQL statement in src/ that
 * touches a tenant-owned table must bind tenant_id. Tenant-owned tables are found from the
 * migrations (a `tenant_id ... NOT NULL` column), so a new table is covered the day it is added.
 */
import { describe, expect, it } from "vitest";
import { keystoreMigrations, migrations } from "../../../src/db/migrations/index.js";
import { sourceFiles, stringLiterals } from "../../source-files.js";

/** Statements allowed to touch a tenant-owned table without a tenant_id condition, with the reason. Keep it short. */
const ALLOWED: Record<string, string> = {
  "SELECT tenant_id, version, status, encryptions, created_at, unused_since, retired_at FROM tenant_keys ORDER BY tenant_id, version":
    "the platform's key status report: versions and counts of every key, never key material",
  "SELECT tenant_id, version, master_label FROM key_wraps ORDER BY master_label":
    "the platform's key status report: which master keys wrap each key (labels only, never the wrapped bytes)",
  "SELECT DISTINCT tenant_id FROM tenant_keys ORDER BY tenant_id":
    "key administration enumerates the key owners (ids only) to re-wrap under a new master key and to re-encrypt",
  "SELECT m.label, m.version, m.kind, m.created_at, m.retired_at, (SELECT count(*) FROM key_wraps w WHERE w.master_label = m.label) AS wraps FROM master_keys m ORDER BY m.version":
    "the master-key registry with the number of keys each wraps (a count, no key material)",
  "DELETE FROM key_wraps WHERE master_label = ?":
    "retiring a master key removes its wraps across tenants, after every key was proven to open under the current one",
  "SELECT DISTINCT tenant_id FROM audit_events WHERE tenant_id IS NOT NULL ORDER BY tenant_id":
    "the checkpoint job enumerates the logs (ids only) to sign each one",
  "SELECT tenant_id, version, master_label, wrapped, status, created_at FROM tenant_keys WHERE tenant_id IS NOT NULL":
    "the one-time move of every key out of the data database into the keystore (src/db/keystore-move.ts)",
  "SELECT token_hash, tenant_id, session_id, created_at, expires_at, used_at FROM refresh_tokens WHERE token_hash = ?":
    "authentication: the presented refresh token's hash is what establishes the tenant",
  "SELECT id, tenant_id, user_id, name, token_hash, scopes, project_id, created_at, expires_at, last_used_at, revoked_at FROM personal_access_tokens WHERE token_hash = ?":
    "authentication: the presented access token's hash is what establishes the tenant",
  "SELECT token_hash, tenant_id, user_id, created_by, created_at, expires_at FROM password_resets WHERE token_hash = ?":
    "password reset: the presented reset token's hash is what establishes the tenant",
};

const SQL_START = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE)\b/i;

function tenantOwnedTables(sql: readonly string[]): string[] {
  const tables: string[] = [];
  for (const text of sql) {
    for (const match of text.matchAll(
      /CREATE TABLE\s+(?:IF NOT EXISTS\s+)?(\w+)\s*\(([\s\S]*?)\)\s*(?:STRICT|WITHOUT ROWID|;)/gi,
    )) {
      const [, name, body] = match as unknown as [string, string, string];
      if (/^\s*tenant_id\s+TEXT\s+NOT NULL/im.test(body)) tables.push(name.toLowerCase());
    }
  }
  return tables;
}

function tablesIn(statement: string): string[] {
  const names = [...statement.matchAll(/\b(?:FROM|JOIN|INTO|UPDATE)\s+(\w+)/gi)].map((m) => (m[1] ?? "").toLowerCase());
  return [...new Set(names)];
}

/** Each parenthesised group of a statement: where it opens and closes. */
function groups(text: string): { open: number; close: number }[] {
  const found: { open: number; close: number }[] = [];
  const stack: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "(") stack.push(i);
    else if (text[i] === ")") found.push({ open: stack.pop() ?? 0, close: i });
  }
  return found;
}

/** The text with every nested group's content blanked (same length): what is left is one level. */
function oneLevel(text: string): string {
  let depth = 0;
  let out = "";
  for (const ch of text) {
    if (ch === ")") depth--;
    out += depth > 0 ? " " : ch;
    if (ch === "(") depth++;
  }
  return out;
}

const CLAUSE_END = /\b(ORDER\s+BY|GROUP\s+BY|LIMIT|HAVING|UNION|EXCEPT|INTERSECT|JOIN|RETURNING|WINDOW|WHERE|ON)\b/gi;

/**
 * The condition around `at` in one level of a statement: from the WHERE or ON before it to the
 * next clause; a parenthesised expression (no WHERE/ON) is its own condition. Undefined when
 * `at` sits in a query but in no WHERE or ON (a select list, say).
 */
function conditionAt(level: string, at: number, isQuery: boolean): string | undefined {
  const before = [...level.slice(0, at).matchAll(/\b(WHERE|ON)\b/gi)].at(-1);
  if (before === undefined && isQuery) return undefined;
  const start = before?.index ?? 0;
  CLAUSE_END.lastIndex = at;
  const end = CLAUSE_END.exec(level)?.index ?? level.length;
  return level.slice(start, end);
}

/**
 * Whether the tenant_id condition at `at` binds its query: it must be an AND conjunct of the
 * WHERE or ON it sits in, through every parenthesised group around it up to its (sub)query. An OR
 * beside it at any of those levels lets rows of other tenants through: `(tenant_id = ? OR 1)`.
 */
function bindsTenant(statement: string, at: number): boolean {
  const around = groups(statement)
    .filter((g) => g.open < at && at < g.close)
    .sort((x, y) => y.open - x.open);
  let position = at;
  for (const group of [...around, { open: -1, close: statement.length }]) {
    const level = oneLevel(statement.slice(group.open + 1, group.close));
    const offset = position - (group.open + 1);
    const isQuery = group.open === -1 || /^\s*(SELECT|WITH)\b/i.test(level);
    const condition = conditionAt(level, offset, isQuery);
    if (condition === undefined || /\bOR\b/i.test(condition)) return false;
    if (isQuery) return true;
    position = group.open;
  }
  return false;
}

/** Why a statement on a tenant-owned table is unsafe, or undefined when it binds tenant_id. */
function tenancyViolation(statement: string): string | undefined {
  const normalized = statement.replace(/\s+/g, " ").trim();
  if (/^(INSERT|REPLACE)\b/i.test(normalized)) {
    const columns = /\(([^)]*)\)\s*(VALUES|SELECT)/i.exec(normalized)?.[1] ?? "";
    if (!/\btenant_id\b/i.test(columns)) return "INSERT without a tenant_id column";
    // An upsert's update hits the row already there, whoever's it is: it must check the tenant.
    const upsert = /\bDO\s+UPDATE\b([\s\S]*)$/i.exec(normalized)?.[1];
    if (upsert !== undefined && !/\bWHERE\b[\s\S]*\btenant_id\s*=\s*excluded\.tenant_id\b/i.test(upsert))
      return "upsert whose DO UPDATE does not check tenant_id";
    return undefined;
  }
  if (!/\b(WHERE|ON)\b/i.test(normalized)) return "no WHERE clause";
  // The condition may sit in a WHERE or in a JOIN's ON (recursive queries bind the tenant there).
  const conditions = [...normalized.matchAll(/\btenant_id\s*(=|IN\b)/gi)].map((m) => m.index);
  if (conditions.length === 0) return "WHERE clause without a tenant_id condition";
  // Every tenant condition must bind, a subquery's too: one weakened there lets its rows cross over.
  return conditions.every((at) => bindsTenant(normalized, at))
    ? undefined
    : "tenant_id condition not ANDed into its WHERE or ON";
}

interface Found {
  readonly where: string;
  readonly statement: string;
  readonly tables: string[];
}

function sqlStatements(): Found[] {
  return sourceFiles("src").flatMap((file) =>
    stringLiterals(file)
      .filter((literal) => SQL_START.test(literal.text))
      .map((literal) => ({
        where: `${file.path}:${literal.line}`,
        statement: literal.text,
        tables: tablesIn(literal.text),
      })),
  );
}

describe("tenant isolation in SQL", () => {
  const owned = tenantOwnedTables([...migrations, ...keystoreMigrations].map((m) => m.sql));
  const statements = sqlStatements();

  it("finds the tenant-owned tables and the statements that touch them", () => {
    expect(owned).toContain("tenant_keys");
    expect(owned).not.toContain("tenants");
    expect(statements.length).toBeGreaterThan(5);
    console.log(`tenancy: ${owned.length} tenant-owned tables, ${statements.length} SQL statements checked`);
  });

  it("every statement on a tenant-owned table binds tenant_id", () => {
    const violations = statements
      .filter((s) => s.tables.some((t) => owned.includes(t)))
      .filter((s) => ALLOWED[s.statement.replace(/\s+/g, " ").trim()] === undefined)
      .map((s) => ({
        where: s.where,
        why: tenancyViolation(s.statement),
        statement: s.statement.replace(/\s+/g, " ").trim(),
      }))
      .filter((v) => v.why !== undefined);
    expect(violations).toEqual([]);
  });

  it("the check itself catches the statements it exists for", () => {
    expect(tenancyViolation("SELECT title FROM nodes WHERE id = ?")).toBe("WHERE clause without a tenant_id condition");
    expect(tenancyViolation("SELECT title FROM nodes")).toBe("no WHERE clause");
    expect(tenancyViolation("UPDATE nodes SET title = ? WHERE id = ?")).toBe(
      "WHERE clause without a tenant_id condition",
    );
    expect(tenancyViolation("DELETE FROM nodes WHERE project_id = ?")).toBe(
      "WHERE clause without a tenant_id condition",
    );
    expect(tenancyViolation("INSERT INTO nodes (id, title) VALUES (?, ?)")).toBe("INSERT without a tenant_id column");
    expect(tenancyViolation("SELECT title FROM nodes WHERE tenant_id = ? AND id = ?")).toBeUndefined();
    expect(tenancyViolation("INSERT INTO nodes (tenant_id, id) VALUES (?, ?)")).toBeUndefined();
    expect(
      tenancyViolation(
        "WITH RECURSIVE r(id) AS (SELECT ? UNION SELECT e.to_id FROM r JOIN edges e ON e.from_id = r.id) SELECT id FROM r",
      ),
    ).toBe("WHERE clause without a tenant_id condition");
    expect(
      tenancyViolation(
        "WITH RECURSIVE r(id) AS (SELECT ? UNION SELECT e.to_id FROM r JOIN edges e ON e.tenant_id = ? AND e.from_id = r.id) SELECT id FROM r",
      ),
    ).toBeUndefined();
    // Weakened conditions: an OR beside the tenant condition, at its level or around it.
    expect(tenancyViolation("SELECT title FROM nodes WHERE (tenant_id = ? OR 1) AND id = ?")).toBe(
      "tenant_id condition not ANDed into its WHERE or ON",
    );
    expect(tenancyViolation("SELECT title FROM nodes WHERE tenant_id = ? OR id = ?")).toBe(
      "tenant_id condition not ANDed into its WHERE or ON",
    );
    expect(tenancyViolation("SELECT title FROM nodes WHERE id = ? OR (tenant_id = ? AND id = ?)")).toBe(
      "tenant_id condition not ANDed into its WHERE or ON",
    );
    expect(
      tenancyViolation("SELECT title FROM nodes n WHERE (n.tenant_id = ? OR n.tenant_id IS NOT NULL) AND n.id = ?"),
    ).toBe("tenant_id condition not ANDed into its WHERE or ON");
    expect(tenancyViolation("UPDATE nodes SET title = ? WHERE tenant_id = ? OR 1")).toBe(
      "tenant_id condition not ANDed into its WHERE or ON",
    );
    expect(tenancyViolation("SELECT tenant_id = ? AS mine FROM nodes WHERE id = ?")).toBe(
      "tenant_id condition not ANDed into its WHERE or ON",
    );
    // An OR elsewhere, or inside a subquery that itself binds the tenant, is fine.
    expect(
      tenancyViolation("SELECT title FROM nodes WHERE tenant_id = ? AND (status = ? OR status = ?)"),
    ).toBeUndefined();
    expect(
      tenancyViolation(
        "SELECT id FROM nodes n WHERE n.tenant_id = ? AND (? = 0 OR n.id IN (SELECT t.node_id FROM node_terms t WHERE t.tenant_id = ? AND t.term = ?))",
      ),
    ).toBeUndefined();
    expect(
      tenancyViolation(
        "SELECT id FROM nodes n WHERE (? = 0 OR n.id IN (SELECT t.node_id FROM node_terms t WHERE t.tenant_id = ? AND t.term = ?)) AND n.tenant_id = ?",
      ),
    ).toBeUndefined();
    expect(
      tenancyViolation(
        "SELECT id FROM nodes n WHERE n.tenant_id = ? AND n.id IN (SELECT t.node_id FROM node_terms t WHERE (t.tenant_id = ? OR 1) AND t.term = ?)",
      ),
    ).toBe("tenant_id condition not ANDed into its WHERE or ON");
    // An upsert must not update another tenant's row that happens to conflict.
    expect(
      tenancyViolation(
        "INSERT INTO project_members (tenant_id, project_id, user_id, role) VALUES (?, ?, ?, ?) ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role",
      ),
    ).toBe("upsert whose DO UPDATE does not check tenant_id");
    expect(
      tenancyViolation(
        "INSERT INTO project_members (tenant_id, project_id, user_id, role) VALUES (?, ?, ?, ?) ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role WHERE project_members.tenant_id = excluded.tenant_id",
      ),
    ).toBeUndefined();
    expect(
      tenantOwnedTables(["CREATE TABLE nodes (\n  id TEXT PRIMARY KEY,\n  tenant_id TEXT NOT NULL\n) STRICT;"]),
    ).toEqual(["nodes"]);
  });

  it("reads a statement split over lines with + as one statement, never as its pieces", () => {
    const text =
      'const COLS = "id, " + "tenant_id";\ndb.prepare(\n  `INSERT INTO nodes (${COLS}) ` +\n    "VALUES (?, ?)",\n).run(f("SELECT 1 " + "FROM x"));';
    const found = stringLiterals({ path: "src/x.ts", text }).map((l) => l.text);
    expect(found).toContain("INSERT INTO nodes (id, tenant_id) VALUES (?, ?)");
    expect(found).toContain("SELECT 1 FROM x");
    expect(found).not.toContain("VALUES (?, ?)");
    expect(found).not.toContain("SELECT 1 ");
  });
});
