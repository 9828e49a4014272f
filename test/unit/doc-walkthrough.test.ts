/** The comparison behind the docs' walkthrough test: what it lets through, and what it must not. */
import { describe, expect, it } from "vitest";
import { ShapeCheck, textLines, walkthroughSteps } from "../doc-walkthrough.js";

const A = "11111111-1111-4111-8111-111111111111";
const B = "22222222-2222-4222-8222-222222222222";
const X = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const Y = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";

describe("ShapeCheck", () => {
  it("accepts another run's ids, times and tokens where the doc shows ones of the same kind", () => {
    const shown = {
      node: { id: A, createdAt: "2026-12-07T04:20:09.390Z", title: "Pay", version: 1 },
      refreshToken: "GCMLeV7boFoAPFMc0oxdYPSbqccSgTbsHiEbq8ZmHoQ",
    };
    const actual = {
      node: { id: X, createdAt: "2027-01-01T00:00:00.000Z", title: "Pay", version: 1 },
      refreshToken: "1Y5iMzbcVASVuq9Z7l1Mph8IqsuE1vTHJcZZp7kLrVA",
    };
    expect(new ShapeCheck().compare(shown, actual)).toEqual([]);
  });

  it("names a changed value, a missing or extra field, and a changed type", () => {
    const check = new ShapeCheck();
    expect(check.compare({ status: "accepted" }, { status: "proposed" })).toHaveLength(1);
    expect(check.compare({ a: 1, b: 2 }, { a: 1 })).toHaveLength(1);
    expect(check.compare({ a: 1 }, { a: 1, c: 3 })).toHaveLength(1);
    expect(check.compare({ a: 1 }, { a: "1" })).toHaveLength(1);
    expect(check.compare({ createdAt: "2026-12-07T04:20:09.390Z" }, { createdAt: "yesterday" })).toHaveLength(1);
    expect(check.compare({ id: A }, { id: "not an id" })).toHaveLength(1);
  });

  it("holds each id the doc shows to one id of the run, both ways (an edge must point at the node shown)", () => {
    expect(new ShapeCheck().compare([{ from: A, to: B }, { node: A }], [{ from: X, to: Y }, { node: X }])).toEqual([]);
    expect(
      new ShapeCheck().compare({ edge: { from: A }, node: { id: A } }, { edge: { from: X }, node: { id: Y } }),
    ).toHaveLength(1);
    expect(new ShapeCheck().compare({ one: A, two: B }, { one: X, two: X })).toHaveLength(1);
  });

  it("matches array items regardless of order, but not their number", () => {
    const check = new ShapeCheck();
    expect(
      check.compare([{ type: "ships_in" }, { type: "relates" }], [{ type: "relates" }, { type: "ships_in" }]),
    ).toEqual([]);
    expect(check.compare([{ type: "ships_in" }], [{ type: "ships_in" }, { type: "relates" }])).toHaveLength(1);
  });
});

describe("walkthroughSteps and textLines", () => {
  it("pairs each sh block of the section with the json or text block after it, and stops at the next section", () => {
    const doc = [
      "# Doc",
      "## Walk",
      "",
      "```sh",
      "echo 1",
      "```",
      "```json",
      "{}",
      "```",
      "```sh",
      "true",
      "```",
      "## Next",
      "```sh",
      "not me",
      "```",
    ].join("\n");
    expect(walkthroughSteps(doc, "## Walk")).toEqual([
      { script: "echo 1", shown: { kind: "json", text: "{}" } },
      { script: "true", shown: undefined },
    ]);
    expect(() => walkthroughSteps(doc, "## Missing")).toThrow();
  });

  it("compares text as a set of lines with ids blanked", () => {
    expect(textLines(`b/${A}.md\na.md`)).toEqual(textLines(`a.md\nb/${X}.md`));
    expect(textLines("a.md")).not.toEqual(textLines("b.md"));
  });
});
