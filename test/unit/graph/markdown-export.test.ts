/**
 * The Markdown export (src/graph/export.ts, src/graph/markdown.ts) with hostile tenant text: a
 * title cannot add a heading, front matter, a link or HTML; a body cannot leave its fenced block;
 * a table cell cannot add a column. Old data may hold line breaks (stored before the text rule),
 * so the titles here do too.
 */
import { describe, expect, it } from "vitest";
import type { EdgeView } from "../../../src/graph/edges.js";
import { nodeMarkdown, secretsMarkdown } from "../../../src/graph/export.js";
import { fencedBlock, frontMatter, inlineText } from "../../../src/graph/markdown.js";
import type { NodeView } from "../../../src/graph/nodes.js";
import type { SecretView } from "../../../src/secrets/secrets.js";
import { markdownStructure, tableCells, unescapedPunctuation, unescapeMarkdown } from "../../markdown-structure.js";

const HOSTILE_TITLES = [
  "# Owned",
  "---\ntitle: injected\n---",
  "Click [here](javascript:alert(1)) ![x](http://evil.test/x.png) <http://evil.test>",
  "<script>alert(1)</script> &lt;b&gt; &#x3C;",
  "a | b | c",
  "Closing sequence ##",
  "line\r\nbreak\rcr\u2028ls\u2029ps\u0085nel",
  "`code` *em* _u_ ~~s~~ \\ back\\\\slash",
  "\nSetext\n===",
  "  - [ ] list? 1. no",
];

const HOSTILE_BODY = [
  "# A heading in the body",
  "---",
  "title: injected",
  "---",
  "```",
  "a fence that tries to close the block",
  "```",
  "<script>alert(1)</script>",
  "````` five backticks `` and two",
  "## Links",
  "- relates → [fake](../evil.md)",
].join("\n");

const ID = "00000000-0000-4000-8000-000000000001";
const OTHER = "00000000-0000-4000-8000-000000000002";

function node(title: string, body: string, type: NodeView["type"] = "decision"): NodeView {
  return {
    id: ID,
    projectId: OTHER,
    type,
    status: "accepted",
    reviewKind: null,
    verdict: null,
    title,
    body,
    author: { type: "human", id: OTHER },
    version: 3,
    createdAt: "2026-01-01T00:00:00.000Z",
    updatedAt: "2026-01-02T00:00:00.000Z",
    archivedAt: null,
    draft: false,
  };
}
const link: EdgeView = {
  id: OTHER,
  projectId: OTHER,
  type: "originates_from",
  inverse: "origin of",
  from: ID,
  to: OTHER,
  createdBy: OTHER,
  createdByType: "agent",
  createdAt: "2026-01-01T00:00:00.000Z",
  draft: false,
};

/** The linked node (OTHER) is an idea of the same project: its file is ../idea/OTHER.md from the node's file. */
const FILES: ReadonlyMap<string, string> = new Map([[OTHER, `${OTHER}/idea/${OTHER}.md`]]);

/** What a title shows once rendered: its text, with line breaks as spaces. */
const shownTitle = (title: string): string => title.replace(/[\p{Cc}\u2028\u2029]/gu, " ");

describe("Markdown export with hostile text", () => {
  it("a hostile title is one escaped heading line: no other heading, no front matter, no inline construct", () => {
    for (const title of HOSTILE_TITLES) {
      const md = nodeMarkdown(node(title, "plain body"), [link], FILES);
      const structure = markdownStructure(md);
      expect(structure.headings, JSON.stringify(title)).toEqual([
        `# ${inlineText(title)}`,
        "## Status",
        "## Context and decision",
        "## Links",
      ]);
      expect(structure.htmlBlocks, JSON.stringify(title)).toEqual([]);
      expect(
        structure.frontMatter?.map((l) => l.split(":")[0]),
        JSON.stringify(title),
      ).toEqual(["id", "type", "status", "author", "version", "created", "updated"]);
      const heading = structure.headings[0]?.slice(2) ?? "";
      expect(unescapedPunctuation(heading), JSON.stringify(title)).toEqual([]);
      expect(unescapeMarkdown(heading), "the heading reads as the title").toBe(shownTitle(title));
      expect(structure.fences).toEqual(["plain body"]);
    }
  });

  it("a hostile body stays verbatim inside one fenced block that no line of it can close", () => {
    for (const type of ["decision", "idea"] as const) {
      const md = nodeMarkdown(node("Fine title", HOSTILE_BODY, type), [link], FILES);
      const structure = markdownStructure(md);
      expect(structure.fences, type).toEqual([HOSTILE_BODY]);
      const expected =
        type === "decision"
          ? ["# Fine title", "## Status", "## Context and decision", "## Links"]
          : ["# Fine title", "## Links"];
      expect(structure.headings, type).toEqual(expected);
      expect(structure.htmlBlocks, type).toEqual([]);
      expect(
        structure.lines.filter((l) => l.startsWith("- ")),
        "only the export's own link",
      ).toEqual([`- originates_from → [${OTHER}](../idea/${OTHER}.md) (by agent:${OTHER})`]);
      expect(md).toContain("\n``````markdown\n"); // longest run in the body is 5
    }
  });

  it("an empty body adds no block; a body's own line ends are kept, CRLF included", () => {
    expect(markdownStructure(nodeMarkdown(node("T", "", "note"), [], FILES)).fences).toEqual([]);
    expect(nodeMarkdown(node("T", "", "note"), [], FILES)).toMatch(/\n---\n\n# T\n$/);
    expect(fencedBlock("a\r\nb\n", "markdown")).toBe("```markdown\na\r\nb\n```\n");
    expect(fencedBlock("no end", "")).toBe("```\nno end\n```\n");
  });

  it("secrets.md: a hostile description or name cannot add a column, a row or markup", () => {
    const secret = (name: string, description: string | null): SecretView => ({
      id: ID,
      name,
      description,
      version: 2,
      createdBy: OTHER,
      createdAt: "2026-01-01T00:00:00.000Z",
      rotatedBy: OTHER,
      rotatedAt: "2026-01-02T00:00:00.000Z",
    });
    const descriptions = [
      "a | b | c",
      "line one\n| x | y | z | w | v |\nline three",
      "<img src=x onerror=alert(1)>",
      "trailing \\",
      null,
    ];
    const md = secretsMarkdown(descriptions.map((d, i) => secret(`key_${i}.v-1`, d)));
    const rows = markdownStructure(md).lines.filter((l) => l.startsWith("|"));
    expect(rows).toHaveLength(2 + descriptions.length);
    for (const row of rows) expect(tableCells(row), row).toHaveLength(5);
    for (const [i, d] of descriptions.entries()) {
      const cells = tableCells(rows[2 + i] ?? "");
      expect(unescapeMarkdown(cells[1] ?? ""), String(d)).toBe((d ?? "").replace(/\s+/g, " ").trim());
      expect(unescapedPunctuation(cells[1] ?? "")).toEqual([]);
      expect(unescapeMarkdown(cells[0] ?? "")).toBe(`key_${i}.v-1`);
    }
  });

  it("a draft says so in its front matter, a draft link in its line; a node in effect and its links do not", () => {
    const inEffect = nodeMarkdown(node("T", "b"), [link], FILES);
    expect(inEffect).not.toContain("draft");
    const draft = nodeMarkdown({ ...node("T", "b"), draft: true }, [{ ...link, draft: true }], FILES);
    expect(markdownStructure(draft).frontMatter).toContain('draft: "true"');
    expect(draft).toMatch(/^- originates_from → .*\(draft\)$/m);
  });

  it("front matter values cannot end the block or break a line, whatever they hold", () => {
    const fm = frontMatter({ id: "x\n---\ninjected: true", note: "a\u2028b\u0085c\u007f", n: 3, gone: null });
    const structure = markdownStructure(`${fm}# T\n`);
    expect(structure.frontMatter).toEqual([
      'id: "x\\n---\\ninjected: true"',
      'note: "a\\u2028b\\u0085c\\u007f"',
      "n: 3",
    ]);
    expect(structure.headings).toEqual(["# T"]);
  });
});
