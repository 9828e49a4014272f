/**
 * Where audit events are made (issue 14 point 2): each event kind of src/vocabulary/events.ts is
 * emitted in exactly one source file, the domain function that does the thing; and routes and CLI
 * commands emit nothing and build no event, they call that function. Both checks read the sources
 * with the TypeScript parser and are shown to flag a synthetic offending source and pass a benign one.
 */
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { sourceFiles, type SourceFile } from "../source-files.js";

const src = sourceFiles("src");

function parse(file: SourceFile): ts.SourceFile {
  return ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true);
}

function visitAll(node: ts.Node, visit: (node: ts.Node) => void): void {
  visit(node);
  ts.forEachChild(node, (child) => visitAll(child, visit));
}

/** The members of the `EventName` union, read from the vocabulary itself. */
function eventNames(vocabulary: SourceFile): Set<string> {
  const names = new Set<string>();
  visitAll(parse(vocabulary), (node) => {
    if (!ts.isTypeAliasDeclaration(node) || node.name.text !== "EventName") return;
    visitAll(node.type, (member) => {
      if (ts.isLiteralTypeNode(member) && ts.isStringLiteral(member.literal)) names.add(member.literal.text);
    });
  });
  return names;
}

const NAMES = eventNames(src.find((f) => f.path === "src/vocabulary/events.ts") as SourceFile);

const propertyName = (p: ts.ObjectLiteralElementLike): string | undefined =>
  p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? p.name.text : undefined;

/** Event names a file emits: string literals in the value of an `event:` property (a ternary's branches included). */
function emittedNames(file: SourceFile, names: ReadonlySet<string>): Set<string> {
  const found = new Set<string>();
  visitAll(parse(file), (node) => {
    if (!ts.isPropertyAssignment(node) || propertyName(node) !== "event") return;
    visitAll(node.initializer, (inner) => {
      if ((ts.isStringLiteral(inner) || ts.isNoSubstitutionTemplateLiteral(inner)) && names.has(inner.text))
        found.add(inner.text);
    });
  });
  return found;
}

/** Each event name with the files emitting it, for those emitted in more than one. */
function emittedTwice(files: readonly SourceFile[], names: ReadonlySet<string>): Record<string, string[]> {
  const where = new Map<string, string[]>();
  for (const file of files)
    for (const name of emittedNames(file, names)) where.set(name, [...(where.get(name) ?? []), file.path]);
  return Object.fromEntries([...where].filter(([, paths]) => paths.length > 1));
}

/** Fields only an event has (an audit filter has `event` and `actor` too). */
const EVENT_FIELDS = new Set(["severity", "sensitivity", "payload"]);

/** A call of an emitting method (`events.emit(`, `db.audit(`, `tx.audit(`), or an object literal shaped as an event. */
function emitsOrBuildsEvent(file: SourceFile): boolean {
  let found = false;
  visitAll(parse(file), (node) => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      ["emit", "audit"].includes(node.expression.name.text)
    )
      found = true;
    if (ts.isObjectLiteralExpression(node)) {
      const keys = node.properties.map(propertyName);
      if (keys.includes("event") && keys.some((k) => k !== undefined && EVENT_FIELDS.has(k))) found = true;
    }
  });
  return found || emittedNames(file, NAMES).size > 0;
}

const synthetic = (text: string, path = "src/x.ts"): SourceFile => ({ path, text });

describe("audit events are made in one place", () => {
  it("reads the event vocabulary", () => {
    expect(NAMES.size).toBeGreaterThan(40);
    expect(NAMES.has("audit.exported")).toBe(true);
  });

  it("emits each event kind from exactly one source file", () => {
    expect(emittedTwice(src, NAMES)).toEqual({});
    // Self-check: the same name in two files is flagged (also in a ternary), twice in one file is not, and a read by name is not an emission.
    const names = new Set(["audit.exported", "audit.verified"]);
    const a = synthetic('events.emit({ event: "audit.exported", severity: "info" });', "src/a.ts");
    const b = synthetic('sink.emit({ ...base, event: ok ? "audit.verified" : "audit.exported" });', "src/b.ts");
    expect(emittedTwice([a, b], names)).toEqual({ "audit.exported": ["src/a.ts", "src/b.ts"] });
    const once = synthetic('emit({ event: "audit.exported" }); emit({ event: "audit.exported" });', "src/c.ts");
    const reader = synthetic(
      'const rows = log.filtered(id, { limit: 10 }); if (row.event === "audit.exported") count++;',
      "src/d.ts",
    );
    expect(emittedTwice([once, reader], names)).toEqual({});
  });

  it("routes and CLI commands neither emit nor build events: they call the domain function that does", () => {
    const thin = src.filter((f) => f.path.startsWith("src/server/routes/") || f.path.startsWith("src/cli/"));
    expect(thin.length).toBeGreaterThan(20);
    expect(thin.filter(emitsOrBuildsEvent).map((f) => f.path)).toEqual([]);
    const offending = [
      'deps.identity.events.emit({ event: "audit.exported", severity: "info" });',
      "services?.identity.events.emit(event);",
      "await tx.audit(record);",
      'const e = { event: name, sensitivity: "security", actor, payload };',
      'record({ event: "backup.created" });',
    ];
    const benign = [
      "const report = await verifyForReader(deps, principal, log);",
      'program.command("audit").description("the audit trail");',
      "const q = { event: options.event, actor: options.actor, from: options.from };",
      "recordBackupCreated(recorder, created);",
    ];
    expect(offending.filter((text) => !emitsOrBuildsEvent(synthetic(text)))).toEqual([]);
    expect(benign.filter((text) => emitsOrBuildsEvent(synthetic(text)))).toEqual([]);
  });
});
