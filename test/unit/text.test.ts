/** The one text rule (src/text.ts): what single-line and multi-line fields accept, refuse, and how they say so. */
import { describe, expect, it } from "vitest";
import { passwordSchema } from "../../src/server/routes/schemas.js";
import { lineSchema, multilineSchema, textProblem } from "../../src/text.js";

const C0_BUT_TAB_LF_CR = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(i)).filter(
  (c) => !"\t\n\r".includes(c),
);
const C1 = Array.from({ length: 0x20 }, (_, i) => String.fromCharCode(0x80 + i));
const BIDI = ["\u202A", "\u202B", "\u202C", "\u202D", "\u202E", "\u2066", "\u2067", "\u2068", "\u2069"];

describe("the text rule", () => {
  it("refuses a lone high or low surrogate in either kind, and says so", () => {
    for (const kind of ["line", "multiline"] as const) {
      for (const bad of ["x\ud800y", "x\udbffy", "x\udc00y", "x\udfff", "\ud800", "😀\ud83d", "\ude00😀"]) {
        expect(textProblem(bad, kind), JSON.stringify(bad)).toBe("contains a lone surrogate (ill-formed Unicode)");
      }
    }
  });

  it("accepts well-formed text beyond the BMP: surrogate pairs, emoji sequences, combining marks, right-to-left words", () => {
    for (const kind of ["line", "multiline"] as const) {
      for (const good of [
        "😀",
        "👩🏽‍💻 ships 🇩🇪",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        "e\u0301",
        "שלום עולם",
        "مرحبا\u200F",
        "日本語",
        "a\u00A0b",
      ]) {
        expect(textProblem(good, kind), good).toBeUndefined();
      }
    }
  });

  it("refuses NUL, every other C0 control, DEL and every C1 control, naming the code point", () => {
    for (const kind of ["line", "multiline"] as const) {
      for (const control of [...C0_BUT_TAB_LF_CR, "\u007F", ...C1]) {
        const hex = control.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
        const expected =
          kind === "line" && control === "\u0085"
            ? `must be a single line (contains the line break U+0085)`
            : `contains the control character U+${hex}`;
        expect(textProblem(`a${control}b`, kind), `${kind} U+${hex}`).toBe(expected);
      }
    }
    expect(textProblem("\u0000", "multiline")).toBe("contains the control character U+0000");
  });

  it("multi-line text keeps tab, LF and CRLF; a bare CR is refused", () => {
    expect(textProblem("a\tb\nc\r\nd\n\n", "multiline")).toBeUndefined();
    expect(textProblem("a\rb", "multiline")).toBe(
      "contains a carriage return (U+000D) that is not part of a CRLF line end",
    );
    expect(textProblem("a\r", "multiline")).toBe(
      "contains a carriage return (U+000D) that is not part of a CRLF line end",
    );
    expect(textProblem("a\r\r\nb", "multiline")).toBe(
      "contains a carriage return (U+000D) that is not part of a CRLF line end",
    );
    expect(textProblem("a\u2028b\u2029c", "multiline")).toBeUndefined();
  });

  it("single-line text refuses every line break and the tab", () => {
    for (const lineBreak of ["\n", "\r", "\r\n", "\u0085", "\u2028", "\u2029"]) {
      const hex = lineBreak.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
      expect(textProblem(`a${lineBreak}b`, "line")).toBe(`must be a single line (contains the line break U+${hex})`);
    }
    expect(textProblem("a\tb", "line")).toBe("contains the control character U+0009");
  });

  it("single-line text refuses the bidirectional embedding, override and isolate controls; multi-line keeps them", () => {
    for (const bidi of BIDI) {
      const hex = bidi.charCodeAt(0).toString(16).toUpperCase();
      expect(textProblem(`admin${bidi}nimda`, "line")).toBe(
        `contains the bidirectional control U+${hex}, not allowed in a single-line field`,
      );
      expect(textProblem(`admin${bidi}nimda`, "multiline")).toBeUndefined();
    }
    expect(textProblem("a\u200Eb\u200Fc\u061Cd", "line"), "the implicit marks LRM, RLM and ALM stay").toBeUndefined();
  });

  it("the schemas check the text as sent, then trim (if asked), then bound its length", () => {
    const name = lineSchema({ max: 5, trim: true });
    expect(name.parse("  Ada  ")).toBe("Ada");
    expect(name.safeParse("Ada\n").success, "a trailing newline is refused, not trimmed away").toBe(false);
    expect(name.safeParse("   ").success).toBe(false);
    expect(name.safeParse("Adaline").success).toBe(false);
    expect(lineSchema({ max: 5 }).parse(" Ada ")).toBe(" Ada ");
    const body = multilineSchema({ min: 0, max: 20 });
    expect(body.parse("")).toBe("");
    expect(body.parse("line\r\nline\n")).toBe("line\r\nline\n");
    const issue = body.safeParse("x\ud800y").error?.issues[0];
    expect(issue).toMatchObject({ code: "custom", message: "contains a lone surrogate (ill-formed Unicode)" });
  });
});

describe("passwords", () => {
  it("refuse a lone surrogate, which UTF-8 hashing would turn into U+FFFD (two passwords would be one)", () => {
    expect(Buffer.from("x\ud800").equals(Buffer.from("x\udfff"))).toBe(true);
    for (const bad of ["x\ud800", "x\udfff", "\ude00😀"])
      expect(passwordSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    for (const good of ["correct horse 😀 battery", "pass\tword with a tab", "пароль-密码"])
      expect(passwordSchema.parse(good)).toBe(good);
  });
});
