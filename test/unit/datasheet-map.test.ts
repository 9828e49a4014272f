/**
 * docs/datasheet.md maps each promise of the public security datasheet to its status and to the
 * tests that prove it. This keeps the map honest: every test file and title it names must exist
 * (a renamed or deleted test breaks the map here, not silently), a "proven" row must name a test,
 * a "partial" or "not built" row must say what is missing, and statuses come from one list.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers.js";

const MAP = "docs/datasheet.md";
const STATUSES: readonly string[] = ["proven", "partial", "not built", "roadmap", "organisational", "not applicable"];
const HEADER = ["§", "promise", "status", "proof", "note"];
/** Between a test file and its title, and between nested titles. */
const STEP = " › ";

interface Row {
  readonly line: number;
  readonly cellCount: number;
  readonly status: string;
  readonly proofs: readonly string[];
  readonly note: string;
}

/** A table line's cells; `\|` is a pipe inside a cell. */
function cells(line: string): string[] {
  return line
    .trim()
    .replace(/^\||\|$/g, "")
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim().replaceAll("\\|", "|"));
}

/** The rows of every table in the map whose header is HEADER. */
function mapRows(markdown: string): Row[] {
  const rows: Row[] = [];
  let inTable = false;
  markdown.split("\n").forEach((line, index) => {
    if (!line.trim().startsWith("|")) {
      inTable = false;
      return;
    }
    const row = cells(line);
    if (row.join() === HEADER.join()) inTable = true;
    else if (inTable && !/^[-: ]*$/.test(row.join(""))) {
      const [, , status = "", proof = "", note = ""] = row;
      rows.push({
        line: index + 1,
        cellCount: row.length,
        status,
        proofs: proof
          .split("<br>")
          .map((p) => p.trim())
          .filter((p) => p !== ""),
        note,
      });
    }
  });
  return rows;
}

const RUNNERS = new Set(["describe", "it", "test"]);

/** The identifier a call chain starts from: `it` for it(…), it.each(…)(…) and describe.skipIf(…)(…). */
function runnerOf(expression: ts.Expression): string | undefined {
  if (ts.isIdentifier(expression)) return expression.text;
  if (ts.isPropertyAccessExpression(expression) || ts.isCallExpression(expression))
    return runnerOf(expression.expression);
  return undefined;
}

function titleOf(call: ts.CallExpression): string | undefined {
  const [first] = call.arguments;
  if (first === undefined || !RUNNERS.has(runnerOf(call.expression) ?? "")) return undefined;
  if (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first)) return first.text;
  // A template title is named as written, `${NAME}` included: its value is not known here.
  if (ts.isTemplateExpression(first)) return first.getText().slice(1, -1);
  return undefined;
}

/** Every describe/it/test title of a test file, each after the titles of the describe blocks around it. */
function testTitles(path: string, text: string): string[][] {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const found: string[][] = [];
  const visit = (node: ts.Node, outer: string[]): void => {
    const title = ts.isCallExpression(node) ? titleOf(node) : undefined;
    const inner = title === undefined ? outer : [...outer, title];
    if (title !== undefined) found.push(inner);
    ts.forEachChild(node, (child) => visit(child, inner));
  };
  visit(source, []);
  return found;
}

const endsWith = (path: readonly string[], tail: readonly string[]): boolean =>
  path.length >= tail.length && tail.every((title, i) => path[path.length - tail.length + i] === title);

/** What is wrong with one proof entry ("file › [describe › ] title"), or undefined. */
function proofProblem(proof: string, titlesOf: (file: string) => string[][] | undefined): string | undefined {
  const [file = "", ...title] = proof.split(STEP);
  if (title.length === 0) return `"${proof}" is not "file${STEP}title"`;
  if (!/^test\/.+\.test\.ts$/.test(file)) return `${file} is not a test file`;
  const titles = titlesOf(file);
  if (titles === undefined) return `${file} does not exist`;
  const matches = titles.filter((path) => endsWith(path, title)).length;
  if (matches === 0) return `${file} has no test "${title.join(STEP)}"`;
  if (matches > 1) return `"${title.join(STEP)}" is ${matches} tests in ${file}: name the describe around it too`;
  return undefined;
}

/** Every problem of a map, each with its line. */
function mapProblems(markdown: string, read: (path: string) => string | undefined): string[] {
  const problems: string[] = [];
  const parsed = new Map<string, string[][] | undefined>();
  const titlesOf = (file: string): string[][] | undefined => {
    if (!parsed.has(file)) {
      const text = read(file);
      parsed.set(file, text === undefined ? undefined : testTitles(file, text));
    }
    return parsed.get(file);
  };
  for (const row of mapRows(markdown)) {
    const at = `${MAP}:${row.line}`;
    if (row.cellCount !== HEADER.length) {
      problems.push(`${at}: ${row.cellCount} cells, not ${HEADER.length} (a stray | ?)`);
      continue;
    }
    if (!STATUSES.includes(row.status)) problems.push(`${at}: unknown status "${row.status}"`);
    if (row.status === "proven" && row.proofs.length === 0) problems.push(`${at}: proven, but names no test`);
    if ((row.status === "partial" || row.status === "not built") && row.note === "")
      problems.push(`${at}: ${row.status}, but the note does not say what is missing`);
    for (const proof of row.proofs) {
      const problem = proofProblem(proof, titlesOf);
      if (problem !== undefined) problems.push(`${at}: ${problem}`);
    }
  }
  return problems;
}

const readRepoFile = (path: string): string | undefined =>
  existsSync(join(ROOT, path)) ? readFileSync(join(ROOT, path), "utf8") : undefined;

describe("the datasheet map (docs/datasheet.md)", () => {
  const doc = readFileSync(join(ROOT, MAP), "utf8");

  it("names only test files and tests that exist; proven rows name a test; statuses are from the list", () => {
    expect(mapProblems(doc, readRepoFile)).toEqual([]);
  });

  it("has a row per promise: the datasheet makes over a hundred", () => {
    expect(mapRows(doc).length).toBeGreaterThanOrEqual(100);
  });

  it("stands alone: every link points to a file of the repository", () => {
    const targets = [...doc.matchAll(/\]\(([^)#]*)[^)]*\)/g)].map((m) => m[1] ?? "").filter((t) => t !== "");
    expect(targets.length).toBeGreaterThan(0);
    for (const target of targets) expect(existsSync(join(ROOT, dirname(MAP), target)), target).toBe(true);
  });

  it("is linked from docs/security-model.md", () => {
    expect(readFileSync(join(ROOT, "docs/security-model.md"), "utf8").includes("](datasheet.md)")).toBe(true);
  });
});

describe("the map checker", () => {
  const source = [
    'describe("outer", () => {',
    '  it("plain title", () => {});',
    "  it('single quotes', () => {});",
    "  it(`a template of ${LIMIT}`, () => {});",
    '  it.each([1, 2])("each %i", () => {});',
    '  describe.skipIf(!isRoot)("root only", () => { test("twice", () => {}); });',
    '  describe("other", () => { it("twice", () => {}); });',
    '  expect(x).toBe("not a title");',
    "});",
  ].join("\n");
  const read = (path: string): string | undefined => (path === "test/unit/fake.test.ts" ? source : undefined);
  const map = (...rows: string[]): string =>
    ["# map", "", `| ${HEADER.join(" | ")} |`, "| --- | --- | --- | --- | --- |", ...rows, ""].join("\n");

  it("reads titles as vitest has them: quotes, templates, .each and .skipIf, nested describes", () => {
    expect(testTitles("fake.test.ts", source)).toEqual([
      ["outer"],
      ["outer", "plain title"],
      ["outer", "single quotes"],
      ["outer", "a template of ${LIMIT}"],
      ["outer", "each %i"],
      ["outer", "root only"],
      ["outer", "root only", "twice"],
      ["outer", "other"],
      ["outer", "other", "twice"],
    ]);
  });

  it("accepts a map whose every proof exists, a describe path included", () => {
    const proofs = [
      "plain title",
      "a template of ${LIMIT}",
      "each %i",
      "root only › twice",
      "outer › other › twice",
    ].map((t) => `test/unit/fake.test.ts › ${t}`);
    expect(
      mapProblems(map(`| 1 | a promise | proven | ${proofs.join("<br>")} | |`, "| 2 | later | roadmap | | |"), read),
    ).toEqual([]);
  });

  it("can fail: a missing file or title, an ambiguous title, a proven row without a test, a bad status, a partial row without a note, a stray pipe", () => {
    const problems = mapProblems(
      map(
        "| 1 | a | proven | test/unit/missing.test.ts › plain title | |",
        "| 2 | b | proven | test/unit/fake.test.ts › no such title | |",
        "| 3 | c | proven | test/unit/fake.test.ts › twice | |",
        "| 4 | d | proven | | |",
        "| 5 | e | done | | |",
        "| 6 | f | partial | test/unit/fake.test.ts › plain title | |",
        "| 7 | g | proven | src/server/app.ts › plain title<br>test/unit/fake.test.ts | |",
        "| 8 | 'human|agent' | roadmap | | |",
      ),
      read,
    );
    expect(problems).toEqual([
      `${MAP}:5: test/unit/missing.test.ts does not exist`,
      `${MAP}:6: test/unit/fake.test.ts has no test "no such title"`,
      `${MAP}:7: "twice" is 2 tests in test/unit/fake.test.ts: name the describe around it too`,
      `${MAP}:8: proven, but names no test`,
      `${MAP}:9: unknown status "done"`,
      `${MAP}:10: partial, but the note does not say what is missing`,
      `${MAP}:11: src/server/app.ts is not a test file`,
      `${MAP}:11: "test/unit/fake.test.ts" is not "file › title"`,
      `${MAP}:12: 6 cells, not 5 (a stray | ?)`,
    ]);
  });
});
