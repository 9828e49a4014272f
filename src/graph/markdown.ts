/**
 * Tenant text placed into the Markdown export (src/graph/export.ts), so that it can only ever be
 * content, never structure: a title cannot add a heading, front matter, a link, a table column or
 * raw HTML, and a body cannot end its own section.
 *
 * Titles, names and table cells are inline text: every ASCII punctuation character is backslash-
 * escaped (CommonMark 0.31 §2.4: any ASCII punctuation may be, and the escaped character is then
 * literal; GFM tables read `\|` as a pipe inside the cell), so no inline construct (link, image,
 * HTML, emphasis, code span, entity, autolink, heading close) can start. Line breaks and other
 * controls become spaces: the text rule (src/text.ts) keeps them out of new titles and names, but
 * data stored before it may hold them, and a line break would start a new block.
 *
 * Bodies are Markdown by nature, written by tenant members. They are emitted verbatim (every byte
 * as stored, nothing escaped) inside a fenced code block whose fence is longer than any run of
 * backticks in the body, so no line of the body can close it (§4.5) and nothing in it is read as
 * a heading, front matter, link or HTML. The section structure around it is always the export's
 * own. The JSON export carries the same bodies for machines; here a reader sees the Markdown source
 * (a body that does not end with a line end gets one before the closing fence).
 */

/** Controls (C0, DEL, C1) and the Unicode line and paragraph separators: each would break or hide a line. */
const LINE_BREAKING = /[\p{Cc}\u2028\u2029]/gu;
const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/g;

/** Text for one line of Markdown (a heading, a list item, a table cell): literal, whatever it holds. */
export function inlineText(text: string): string {
  return text.replace(LINE_BREAKING, " ").replace(ASCII_PUNCTUATION, (c) => `\\${c}`);
}

/** `text` verbatim in a fenced code block that nothing inside it can close; `info` names its language. */
export function fencedBlock(text: string, info: string): string {
  const longestRun = Math.max(0, ...Array.from(text.matchAll(/`+/g), (m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longestRun + 1));
  const body = text.endsWith("\n") ? text : `${text}\n`;
  return `${fence}${info}\n${body}${fence}\n`;
}

/**
 * What JSON.stringify leaves raw but YAML does not take raw in a double-quoted scalar: DEL, C1, its own line breaks
 * U+2028/U+2029 (YAML 1.1), BOM, U+FFFE/U+FFFF.
 */
const YAML_UNPRINTABLE = /[\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]/g;

/**
 * A YAML front matter block. Values are JSON strings, which YAML reads as double-quoted scalars
 * (JSON already escapes quotes, backslashes and C0 controls; the rest YAML needs escaped is added),
 * so no value can end the block or start a line, whatever a future field holds. Today every value
 * is a closed format (ids, vocabulary, dates, numbers): free text stays out of the front matter.
 */
export function frontMatter(fields: Readonly<Record<string, string | number | null>>): string {
  const value = (v: string | number): string =>
    JSON.stringify(v).replace(YAML_UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  const lines = Object.entries(fields).flatMap(([k, v]) => (v === null ? [] : [`${k}: ${value(v)}`]));
  return `---\n${lines.join("\n")}\n---\n\n`;
}
