/**
 * Every relative link of the repository's Markdown docs resolves: the file exists, and a `#part`
 * names a heading of that file (GitHub's anchors). A renamed section or a moved file breaks the
 * build here instead of leaving a newcomer at a dead link.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers.js";
import { markdownStructure } from "../markdown-structure.js";

/** The Markdown files an operator or a vendor reads: README, docs/ (with ADRs), licensing/. */
function docFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : name.endsWith(".md") ? [path] : [];
    });
  return [join(ROOT, "README.md"), ...walk(join(ROOT, "docs")), ...walk(join(ROOT, "licensing"))];
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const heading of markdownStructure(markdown).headings) {
    const text = heading.replace(/^ {0,3}#{1,6}\s*/, "").replace(/\s#+\s*$/, "");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, "")
      .replaceAll(" ", "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** The relative link targets outside code: `[text](target)`, without web and mail links. */
function relativeLinks(markdown: string): string[] {
  const prose = markdownStructure(markdown).lines.map((line) => line.replace(/`[^`]*`/g, ""));
  const targets = [...prose.join("\n").matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1] ?? "");
  return targets.filter((target) => !/^[a-z][a-z+.-]*:/i.test(target));
}

function broken(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return relativeLinks(text).flatMap((target) => {
    const [path = "", fragment] = target.split("#");
    const resolved = path === "" ? file : join(dirname(file), decodeURIComponent(path));
    const where = `${relative(ROOT, file)}: ${target}`;
    if (!existsSync(resolved)) return [`${where}: no such file`];
    if (fragment === undefined || fragment === "") return [];
    if (statSync(resolved).isDirectory() || !resolved.endsWith(".md"))
      return [`${where}: an anchor into something that is not a Markdown file`];
    return anchors(readFileSync(resolved, "utf8")).has(fragment) ? [] : [`${where}: no heading with that anchor`];
  });
}

describe("links between the docs", () => {
  it("finds the docs and their links (the check sees something)", () => {
    const files = docFiles();
    expect(files.length).toBeGreaterThan(10);
    expect(files.flatMap((f) => relativeLinks(readFileSync(f, "utf8"))).length).toBeGreaterThan(50);
  });

  it("reads GitHub's anchors the way GitHub makes them", () => {
    expect([
      ...anchors(
        "# Running `vecto` commands\n## Keys and certificates\n## Keys and certificates\n## What's new? (2027)\n",
      ),
    ]).toEqual(["running-vecto-commands", "keys-and-certificates", "keys-and-certificates-1", "whats-new-2027"]);
  });

  it("has no relative link to a missing file or heading", () => {
    expect(docFiles().flatMap(broken)).toEqual([]);
  });
});
