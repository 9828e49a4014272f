/**
 * The statement cache (src/db/statements.ts): one prepared statement per SQL text per connection,
 * reused after an error, never handed out while it iterates, gone with its handle; and every
 * repository goes through it with static SQL only, so the cache cannot grow with requests.
 */
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import type BetterSqlite3 from "better-sqlite3";
import { openSqlite } from "../../../src/db/sqlite.js";
import { statement } from "../../../src/db/statements.js";
import { testDir } from "../../helpers.js";
import { sourceFiles, type SourceFile } from "../../source-files.js";

const INSERT = "INSERT INTO t (id, v) VALUES (?, ?)";
const SELECT = "SELECT v FROM t WHERE id = ?";

function openTable(file: string): BetterSqlite3.Database {
  const handle = openSqlite(file, false);
  handle.exec("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  return handle;
}

function withHandle(): BetterSqlite3.Database {
  const handle = openTable(join(testDir("vecto-statements-"), "t.db"));
  return handle;
}

describe("the statement cache", () => {
  it("gives the same statement for the same SQL on one handle, another for other SQL", () => {
    const handle = withHandle();
    try {
      const first = statement(handle, INSERT);
      expect(statement(handle, INSERT)).toBe(first);
      expect(statement(handle, SELECT)).not.toBe(first);
      first.run(1, "one");
      expect(statement<[number], { v: string }>(handle, SELECT).get(1)).toEqual({ v: "one" });
    } finally {
      handle.close();
    }
  });

  it("gives each handle its own statements", () => {
    const dir = testDir("vecto-statements-");
    const a = openTable(join(dir, "a.db"));
    const b = openTable(join(dir, "b.db"));
    try {
      const onA = statement(a, INSERT);
      const onB = statement(b, INSERT);
      expect(onB).not.toBe(onA);
      expect(onA.database).toBe(a);
      expect(onB.database).toBe(b);
      onA.run(1, "only in a");
      expect(statement(b, SELECT).get(1)).toBeUndefined();
      expect(statement(a, SELECT).get(1)).toEqual({ v: "only in a" });
    } finally {
      a.close();
      b.close();
    }
  });

  it("reuses a statement that threw, and it works afterwards", () => {
    const handle = withHandle();
    try {
      const insert = statement(handle, INSERT);
      insert.run(1, "one");
      expect(() => insert.run(1, "again")).toThrow(/UNIQUE constraint failed/);
      expect(() => statement(handle, INSERT).run(2, null)).toThrow(/NOT NULL constraint failed/);
      expect(statement(handle, INSERT)).toBe(insert);
      expect(statement(handle, INSERT).run(2, "two").changes).toBe(1);
      expect(statement(handle, "SELECT count(*) AS n FROM t").get()).toEqual({ n: 2 });
    } finally {
      handle.close();
    }
  });

  it("hands out a fresh statement while the cached one iterates, instead of 'This statement is busy'", () => {
    const handle = withHandle();
    try {
      for (let id = 1; id <= 3; id++) statement(handle, INSERT).run(id, `v${id}`);
      const all = "SELECT id, v FROM t ORDER BY id";
      const outer = statement<[], { id: number; v: string }>(handle, all);
      const seen: string[] = [];
      for (const row of outer.iterate()) {
        const inner = statement<[], { id: number; v: string }>(handle, all);
        expect(inner).not.toBe(outer);
        seen.push(`${row.id}:${inner.all().length}`);
      }
      expect(seen).toEqual(["1:3", "2:3", "3:3"]);
      expect(statement(handle, all)).toBe(outer);
    } finally {
      handle.close();
    }
  });

  it("lets the handle close with statements cached; they fail like the closed handle, a new handle prepares its own", () => {
    const dir = testDir("vecto-statements-");
    const file = join(dir, "t.db");
    const handle = openTable(file);
    const insert = statement(handle, INSERT);
    insert.run(1, "one");
    handle.close();
    expect(() => insert.run(2, "two")).toThrow(/not open/);
    expect(() => statement(handle, SELECT).get(1)).toThrow(/not open/);
    const reopened = openTable(file);
    try {
      expect(statement(reopened, INSERT)).not.toBe(insert);
      expect(statement(reopened, SELECT).get(1)).toEqual({ v: "one" });
    } finally {
      reopened.close();
    }
  });
});

/** Files of src/db that may still prepare by hand, and why. */
const PREPARES_BY_HAND: Record<string, string> = {
  "src/db/statements.ts": "the cache itself",
  "src/db/repositories/tenant-export.ts":
    "a one-off connection per export; per-table SELECTs built from sqlite_master, iterated row by row",
  "src/db/repositories/sealed-fields.ts":
    "re-encryption's SQL is built from the encrypted-column registry: a platform job, not a request",
};

/** The repositories and the keystore: what requests reach. */
const CACHED_AREAS = (path: string): boolean =>
  path.startsWith("src/db/repositories/") || path === "src/db/keystore.ts";

/** Top-level `const` names of a file whose value is static text. */
function staticConstants(source: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  for (const node of source.statements) {
    if (!ts.isVariableStatement(node) || !(node.declarationList.flags & ts.NodeFlags.Const)) continue;
    for (const d of node.declarationList.declarations)
      if (ts.isIdentifier(d.name) && d.initializer && isStatic(d.initializer, names)) names.add(d.name.text);
  }
  return names;
}

/** Whether an expression is text fixed at build time: literals, their concatenations, static constants. */
function isStatic(node: ts.Expression, constants: ReadonlySet<string>): boolean {
  if (ts.isParenthesizedExpression(node)) return isStatic(node.expression, constants);
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return true;
  if (ts.isTemplateExpression(node)) return node.templateSpans.every((s) => isStatic(s.expression, constants));
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken)
    return isStatic(node.left, constants) && isStatic(node.right, constants);
  if (ts.isConditionalExpression(node))
    return isStatic(node.whenTrue, constants) && isStatic(node.whenFalse, constants);
  return ts.isIdentifier(node) && constants.has(node.text);
}

/** Each `statement(handle, sql)` call of a file whose SQL is not static, as file:line. */
function dynamicStatements(file: SourceFile): string[] {
  const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true);
  const constants = staticConstants(source);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "statement") {
      const sql = node.arguments[1];
      if (sql === undefined || !isStatic(sql, constants))
        found.push(`${file.path}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("every repository uses the cache, with static SQL", () => {
  const files = sourceFiles("src/db");

  it("no repository, nor the keystore, prepares a statement by hand", () => {
    const byHand = files
      .filter((f) => CACHED_AREAS(f.path) && PREPARES_BY_HAND[f.path] === undefined)
      .filter((f) => /\.prepare\s*[<(]/.test(f.text))
      .map((f) => f.path);
    expect(byHand).toEqual([]);
  });

  it("passes only static SQL text to the cache, so it holds one entry per statement in the source", () => {
    expect(files.filter((f) => /\bstatement[<(]/.test(f.text)).length).toBeGreaterThan(10);
    expect(sourceFiles("src").flatMap(dynamicStatements)).toEqual([]);
  });

  it("the check itself tells static SQL from SQL built at run time", () => {
    const check = (text: string): string[] => dynamicStatements({ path: "x.ts", text });
    const fixed =
      'const C = "a, b";\nconst S = `SELECT ${C} FROM t`;\n' +
      'statement(h, S); statement(h, "SELECT 1" + ` FROM ${C}`); statement(h, f ? S : "SELECT 2");';
    expect(check(fixed)).toEqual([]);
    expect(check("statement(h, `SELECT * FROM ${table}`);")).toEqual(["x.ts:1"]);
    expect(check('let S = "SELECT 1";\nstatement(h, S);')).toEqual(["x.ts:2"]);
    expect(check('statement(h, "SELECT " + ids.join(","));')).toEqual(["x.ts:1"]);
  });
});
