/**
 * The one rule for every piece of free text the API stores (node titles and bodies; project,
 * tenant, user and token names; secret descriptions; license text), so that an acknowledged
 * write is exactly what reads back, and a stored name cannot break a line, a terminal or a listing.
 *
 * - Well-formed Unicode only. A lone surrogate cannot be encoded as UTF-8: stored, it would come
 *   back as U+FFFD, a different string from the one acknowledged. Refused, never replaced.
 * - No control characters (Unicode category Cc: C0, DEL, C1). Multi-line text may hold tab, line
 *   feed, and carriage return only as part of CRLF: CRLF is how Windows clients write lines and is
 *   stored as sent (normalising it to LF would change an acknowledged write), while a bare CR
 *   rewinds a terminal line (output spoofing) and is a line break to Markdown but not to most editors.
 * - Single-line text (names, titles) refuses every line break, tab included, and U+2028/U+2029.
 *   It also refuses the bidirectional embedding, override and isolate controls (U+202A–U+202E,
 *   U+2066–U+2069): in a name or title they can make a list show one thing while holding another
 *   ("Trojan Source", CVE-2021-42574), and a name never needs them since the Unicode bidi
 *   algorithm orders right-to-left words by itself. Long-form multi-line text keeps them: mixed-
 *   direction prose legitimately uses isolates. The implicit marks LRM/RLM/ALM stay allowed.
 *
 * Closed formats (ids, slugs, emails, enums, secret names' pattern) exclude all of these by
 * construction and do not need this rule; test/unit/route-text-fields.test.ts checks every route.
 */
import { z } from "zod";

export type TextKind = "line" | "multiline";

const LINE_BREAK = /[\n\r\u0085\u2028\u2029]/u;
const ANY_CONTROL = /\p{Cc}/u;
/** Controls other than tab, LF and CR, or a CR that does not start a CRLF. */
const MULTILINE_CONTROL = /[^\P{Cc}\t\n\r]|\r(?!\n)/u;
const BIDI_CONTROL = /[\u202A-\u202E\u2066-\u2069]/u;

function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Why `value` breaks the text rule for its kind, or undefined. The message names a code point, never quotes the value. */
export function textProblem(value: string, kind: TextKind): string | undefined {
  // Native, and ten times faster here than /\p{Cs}/u on a long body (types/string-well-formed.d.ts).
  if (!value.isWellFormed()) return "contains a lone surrogate (ill-formed Unicode)";
  if (kind === "line") {
    const lineBreak = LINE_BREAK.exec(value)?.[0];
    if (lineBreak !== undefined) return `must be a single line (contains the line break ${codePoint(lineBreak)})`;
  }
  const control = (kind === "line" ? ANY_CONTROL : MULTILINE_CONTROL).exec(value)?.[0];
  if (control === "\r") return "contains a carriage return (U+000D) that is not part of a CRLF line end";
  if (control !== undefined) return `contains the control character ${codePoint(control)}`;
  if (kind === "line") {
    const bidi = BIDI_CONTROL.exec(value)?.[0];
    if (bidi !== undefined)
      return `contains the bidirectional control ${codePoint(bidi)}, not allowed in a single-line field`;
  }
  return undefined;
}

export interface TextOptions {
  /** Most characters (UTF-16 code units, as String#length counts), after trimming. */
  readonly max: number;
  /** Fewest characters after trimming; 1 unless said otherwise. */
  readonly min?: number;
  /**
   * Remove leading and trailing white space before storing. The rule is checked on the text as
   * sent, first, so trimming only ever removes spaces (never a line break a single-line field
   * would refuse); the response carries the stored, trimmed value.
   */
  readonly trim?: boolean;
}

function textSchema(kind: TextKind, options: TextOptions): z.ZodString {
  const checked = z.string().superRefine((value, ctx) => {
    const problem = textProblem(value, kind);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
  });
  return (options.trim === true ? checked.trim() : checked).min(options.min ?? 1).max(options.max);
}

/** A name, a title: one line of well-formed text (see the rule above). */
export function lineSchema(options: TextOptions): z.ZodString {
  return textSchema("line", options);
}

/** A body, a description, a file's text: well-formed text over several lines (tab, LF, CRLF). */
export function multilineSchema(options: TextOptions): z.ZodString {
  return textSchema("multiline", options);
}
