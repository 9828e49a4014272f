/** Reads the project's own sources for the architecture tests. */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { ROOT } from "./helpers.js";

export interface SourceFile {
  /** Path relative to the repository root, with forward slashes. */
  readonly path: string;
  readonly text: string;
}

function walk(dir: string, out: string[]): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else out.push(full);
  }
  return out;
}

export function sourceFiles(folder: string, extension = ".ts"): SourceFile[] {
  return walk(join(ROOT, folder), [])
    .filter((file) => file.endsWith(extension))
    .map((file) => ({ path: relative(ROOT, file).split("\\").join("/"), text: readFileSync(file, "utf8") }));
}

const unparenthesized = (node: ts.Expression): ts.Expression =>
  ts.isParenthesizedExpression(node) ? unparenthesized(node.expression) : node;

const isStringPiece = (node: ts.Expression): boolean => {
  const inner = unparenthesized(node);
  return (
    ts.isStringLiteral(inner) ||
    ts.isNoSubstitutionTemplateLiteral(inner) ||
    ts.isTemplateExpression(inner) ||
    isConcatenation(inner)
  );
};

/** `"a " + "b"` or `` `a ${x} ` + "b" ``: a string split over lines to keep them short is read as one string. */
function isConcatenation(node: ts.Expression): node is ts.BinaryExpression {
  return (
    ts.isBinaryExpression(node) &&
    node.operatorToken.kind === ts.SyntaxKind.PlusToken &&
    (isStringPiece(node.left) || isStringPiece(node.right))
  );
}

/** The text of a string expression; file-level string constants are filled in, any other value is `${…}`. */
function stringValue(node: ts.Expression, constants: ReadonlyMap<string, string>): string {
  const inner = unparenthesized(node);
  if (ts.isStringLiteral(inner) || ts.isNoSubstitutionTemplateLiteral(inner)) return inner.text;
  if (ts.isTemplateExpression(inner))
    return (
      inner.head.text +
      inner.templateSpans.map((span) => stringValue(span.expression, constants) + span.literal.text).join("")
    );
  if (isConcatenation(inner)) return stringValue(inner.left, constants) + stringValue(inner.right, constants);
  return (ts.isIdentifier(inner) ? constants.get(inner.text) : undefined) ?? "${…}";
}

/** Top-level `const NAME = "text"` declarations of a file, so templates that use them can be read whole. */
function stringConstants(source: ts.SourceFile): Map<string, string> {
  const constants = new Map<string, string>();
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      const init = declaration.initializer;
      if (
        ts.isIdentifier(declaration.name) &&
        init &&
        (ts.isStringLiteral(init) || ts.isNoSubstitutionTemplateLiteral(init) || isConcatenation(init))
      ) {
        constants.set(declaration.name.text, stringValue(init, constants));
      }
    }
  }
  return constants;
}

/**
 * Every string and template literal in a TypeScript file, with its line; a template's file-level string constants are
 * filled in, and a concatenation of strings (`"SELECT … " + "WHERE …"`) is one string, never its pieces.
 */
export function stringLiterals(file: SourceFile): { text: string; line: number }[] {
  const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true);
  const constants = stringConstants(source);
  const found: { text: string; line: number }[] = [];
  const lineOf = (node: ts.Node): number => source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
  // The values inside a template or concatenation (`${f("…")}`, `+ g("…")`) are strings of their own.
  const visitValues = (node: ts.Expression): void => {
    const inner = unparenthesized(node);
    if (ts.isTemplateExpression(inner)) inner.templateSpans.forEach((span) => visit(span.expression));
    else if (isConcatenation(inner)) [inner.left, inner.right].forEach(visitValues);
    else if (!ts.isStringLiteral(inner) && !ts.isNoSubstitutionTemplateLiteral(inner)) visit(inner);
  };
  const visit = (node: ts.Node): void => {
    if (
      ts.isStringLiteral(node) ||
      ts.isNoSubstitutionTemplateLiteral(node) ||
      ts.isTemplateExpression(node) ||
      (ts.isBinaryExpression(node) && isConcatenation(node))
    ) {
      found.push({ text: stringValue(node, constants), line: lineOf(node) });
      visitValues(node);
    } else ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Module specifiers of every import/export-from and dynamic import() in a file. */
export function importedModules(file: SourceFile): string[] {
  const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.arguments.length > 0) {
      const [first] = node.arguments;
      const isDynamicImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === "require";
      if ((isDynamicImport || isRequire) && first && ts.isStringLiteral(first)) found.push(first.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Names imported from one module by a file (`import { a, b as c } from "m"` gives a, b); "*" for namespace/default imports. */
export function namedImportsFrom(file: SourceFile, module: string): string[] {
  const source = ts.createSourceFile(file.path, file.text, ts.ScriptTarget.Latest, true);
  const names: string[] = [];
  for (const statement of source.statements) {
    if (
      !ts.isImportDeclaration(statement) ||
      !ts.isStringLiteral(statement.moduleSpecifier) ||
      statement.moduleSpecifier.text !== module
    )
      continue;
    const clause = statement.importClause;
    if (!clause) continue;
    if (clause.name) names.push("*");
    const bindings = clause.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) names.push("*");
    if (bindings && ts.isNamedImports(bindings))
      names.push(...bindings.elements.map((e) => (e.propertyName ?? e.name).text));
  }
  return names;
}
