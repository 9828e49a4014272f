/**
 * The block structure of a Markdown file, read the way CommonMark reads it, as far as the export's
 * safety depends on it: front matter, headings (ATX and setext), HTML blocks, fenced code blocks,
 * and unescaped inline punctuation. Enough to see whether tenant text changed the structure.
 */

export interface MarkdownStructure {
  /** The lines between the opening and closing `---` of a front matter block at the very top. */
  readonly frontMatter: readonly string[] | undefined;
  /** Heading lines outside code blocks: ATX (`# x`), and the text line above a setext underline. */
  readonly headings: readonly string[];
  /** Lines outside code blocks that would start an HTML block. */
  readonly htmlBlocks: readonly string[];
  /** Each fenced code block's content, exactly. */
  readonly fences: readonly string[];
  /** Every line outside front matter and code blocks. */
  readonly lines: readonly string[];
}

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})/;
const ATX = /^ {0,3}#{1,6}(?:[ \t]|$)/;
const SETEXT = /^ {0,3}(?:=+|-+)[ \t]*$/;
const HTML_START = /^ {0,3}<(?:[A-Za-z/!?])/;

function frontMatterEnd(lines: readonly string[]): number {
  if (lines[0] !== "---") return 0;
  const close = lines.indexOf("---", 1);
  return close < 0 ? 0 : close + 1;
}

export function markdownStructure(text: string): MarkdownStructure {
  // CommonMark line ends: LF, CRLF and a bare CR.
  const all = text.split(/\r\n|\r|\n/);
  const start = frontMatterEnd(all);
  const headings: string[] = [];
  const htmlBlocks: string[] = [];
  const fences: string[] = [];
  const lines: string[] = [];
  let open: { char: string; length: number; content: string[] } | undefined;
  for (const line of all.slice(start)) {
    if (open) {
      const close = new RegExp(`^ {0,3}${open.char === "`" ? "`" : "~"}{${open.length},}[ \\t]*$`);
      if (close.test(line)) {
        fences.push(open.content.join("\n"));
        open = undefined;
      } else open.content.push(line);
      continue;
    }
    const fence = FENCE_OPEN.exec(line)?.[1];
    if (fence !== undefined) {
      open = { char: fence[0] ?? "`", length: fence.length, content: [] };
      continue;
    }
    const previous = lines.at(-1);
    if (ATX.test(line)) headings.push(line);
    else if (SETEXT.test(line) && previous !== undefined && previous.trim() !== "" && !ATX.test(previous))
      headings.push(previous);
    if (HTML_START.test(line)) htmlBlocks.push(line);
    lines.push(line);
  }
  if (open) fences.push(open.content.join("\n")); // an unclosed fence runs to the end of the file
  return { frontMatter: start > 0 ? all.slice(1, start - 1) : undefined, headings, htmlBlocks, fences, lines };
}

/** ASCII punctuation in `text` that is not backslash-escaped (and so may start an inline construct). */
export function unescapedPunctuation(text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] ?? "";
    if (c === "\\" && /[!-/:-@[-`{-~]/.test(text[i + 1] ?? "")) i += 1;
    else if (/[!-/:-@[-`{-~]/.test(c)) found.push(c);
  }
  return found;
}

/** Undoes CommonMark backslash escapes. */
export function unescapeMarkdown(text: string): string {
  return text.replace(/\\([!-/:-@[-`{-~])/g, "$1");
}

/** The cells of a GFM table row: split on pipes that are not escaped. */
export function tableCells(row: string): string[] {
  const cells: string[] = [];
  let current = "";
  for (let i = 0; i < row.length; i += 1) {
    const c = row[i] ?? "";
    if (c === "\\") {
      current += c + (row[i + 1] ?? "");
      i += 1;
    } else if (c === "|") {
      cells.push(current.trim());
      current = "";
    } else current += c;
  }
  cells.push(current.trim());
  return cells.slice(1, -1);
}
