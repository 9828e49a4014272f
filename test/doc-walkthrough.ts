/**
 * A documented walkthrough, run as written: the `sh` blocks of one section of a doc, in order, in
 * one shell, each followed by the `json` or `text` block that shows what it printed. The doc is
 * the test's only source of commands, so a changed route, field or status in the product, or an
 * edited command in the doc, turns the test red instead of leaving the doc wrong.
 */
import { spawnSync } from "node:child_process";
import { markdownStructure } from "./markdown-structure.js";

export interface WalkthroughStep {
  /** The shell commands of the step, exactly as the doc shows them. */
  readonly script: string;
  /** What the doc shows the step printing: nothing, a JSON document, or lines of text. */
  readonly shown: { readonly kind: "json" | "text"; readonly text: string } | undefined;
}

const SHOWN_KINDS = ["json", "text"] as const;
const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w-]*)/;

/** The fenced blocks of the section under `heading` (up to the next heading of its level or above). */
function sectionBlocks(markdown: string, heading: string): { info: string; body: string }[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((line) => line.trim() === heading);
  if (start < 0) throw new Error(`no section "${heading}"`);
  const level = /^#+/.exec(heading)?.[0].length ?? 2;
  const blocks: { info: string; body: string }[] = [];
  let open: { fence: string; info: string; body: string[] } | undefined;
  for (const line of lines.slice(start + 1)) {
    if (open) {
      if (line.trim().startsWith(open.fence) && line.trim().replaceAll(open.fence[0] ?? "`", "") === "") {
        blocks.push({ info: open.info, body: open.body.join("\n") });
        open = undefined;
      } else open.body.push(line);
      continue;
    }
    const heading = /^(#+)\s/.exec(line);
    if (heading && (heading[1]?.length ?? 0) <= level) break;
    const fence = FENCE.exec(line);
    if (fence) open = { fence: fence[1] ?? "```", info: fence[2] ?? "", body: [] };
  }
  return blocks;
}

/** The steps of a walkthrough section: each `sh` block with the `json`/`text` block right after it. */
export function walkthroughSteps(markdown: string, heading: string): WalkthroughStep[] {
  // The same block reading as the export tests use, as a cross-check that no fence was missed.
  const fences = markdownStructure(markdown).fences;
  const blocks = sectionBlocks(markdown, heading);
  for (const block of blocks)
    if (!fences.includes(block.body))
      throw new Error(`a fence of "${heading}" was read differently: ${block.body.slice(0, 60)}`);
  const steps: WalkthroughStep[] = [];
  for (const [index, block] of blocks.entries()) {
    if (block.info !== "sh") continue;
    const next = blocks[index + 1];
    const kind = SHOWN_KINDS.find((k) => k === next?.info);
    const shown = kind === undefined || next === undefined ? undefined : { kind, text: next.body };
    steps.push({ script: block.body, shown });
  }
  return steps;
}

const MARK = "@@walkthrough-step@@";

/** Runs every step in one bash (variables and the working directory carry over); returns each step's output. */
export function runWalkthrough(
  steps: readonly WalkthroughStep[],
  options: { prelude: string; cwd: string; env: Record<string, string> },
): { status: number | null; outputs: string[]; stderr: string } {
  const script = [
    "set -eu",
    options.prelude,
    ...steps.flatMap((step) => [`printf '\\n%s\\n' '${MARK}'`, step.script]),
  ].join("\n");
  const result = spawnSync("/bin/bash", ["-c", script], {
    cwd: options.cwd,
    env: options.env,
    encoding: "utf8",
    timeout: 120_000,
  });
  const outputs = result.stdout.split(`\n${MARK}\n`).slice(1);
  return { status: result.status, outputs, stderr: result.stderr };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Values that differ on every run, by what they are: only their kind is compared. */
const VOLATILE: readonly [string, RegExp][] = [
  ["timestamp", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/],
  ["jwt", /^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+$/],
  ["prefixed token", /^v[a-z]{1,4}_[\w-]{40,}$/],
  ["opaque token", /^[\w-]{43}$/],
  ["key id", /^[0-9a-f]{16}$/],
  ["Ed25519 public key", /^[A-Za-z0-9+/]{43}=$/],
];

/** Compares what a step printed with what the doc shows. */
export class ShapeCheck {
  /** Each id the doc shows stands for one id of this run, and the other way round. */
  readonly #ids = new Map<string, string>();
  readonly #seen = new Map<string, string>();

  /** The places where `actual` differs from `shown`, as "path: why"; empty when they agree. */
  compare(shown: unknown, actual: unknown, path = "$"): string[] {
    if (typeof shown === "string" && typeof actual === "string") return this.#strings(shown, actual, path);
    if (Array.isArray(shown) && Array.isArray(actual)) return this.#arrays(shown, actual, path);
    if (isObject(shown) && isObject(actual)) return this.#objects(shown, actual, path);
    return Object.is(shown, actual)
      ? []
      : [`${path}: the doc shows ${JSON.stringify(shown)}, the product gave ${JSON.stringify(actual)}`];
  }

  #strings(shown: string, actual: string, path: string): string[] {
    if (UUID.test(shown)) {
      if (!UUID.test(actual)) return [`${path}: the doc shows an id, the product gave ${JSON.stringify(actual)}`];
      const mapped = this.#ids.get(shown);
      const back = this.#seen.get(actual);
      if ((mapped !== undefined && mapped !== actual) || (back !== undefined && back !== shown))
        return [`${path}: the doc shows the id ${shown} here, which stands for another id elsewhere`];
      this.#ids.set(shown, actual);
      this.#seen.set(actual, shown);
      return [];
    }
    const kind = VOLATILE.find(([, pattern]) => pattern.test(shown));
    if (kind)
      return kind[1].test(actual)
        ? []
        : [`${path}: the doc shows a ${kind[0]}, the product gave ${JSON.stringify(actual)}`];
    return shown === actual
      ? []
      : [`${path}: the doc shows ${JSON.stringify(shown)}, the product gave ${JSON.stringify(actual)}`];
  }

  #arrays(shown: unknown[], actual: unknown[], path: string): string[] {
    if (shown.length !== actual.length)
      return [`${path}: the doc shows ${shown.length} items, the product gave ${actual.length}`];
    // Items whose order the product does not fix (by id) are matched by their stable content.
    const shownSorted = [...shown].sort(byStableContent);
    const actualSorted = [...actual].sort(byStableContent);
    return shownSorted.flatMap((item, index) => this.compare(item, actualSorted[index], `${path}[${index}]`));
  }

  #objects(shown: Record<string, unknown>, actual: Record<string, unknown>, path: string): string[] {
    const keys = (o: Record<string, unknown>): string => Object.keys(o).sort().join(",");
    if (keys(shown) !== keys(actual))
      return [`${path}: the doc shows the fields {${keys(shown)}}, the product gave {${keys(actual)}}`];
    return Object.keys(shown).flatMap((key) => this.compare(shown[key], actual[key], `${path}.${key}`));
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A value with its run-dependent strings blanked, as sortable text. */
function stableContent(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "string" && (UUID.test(v) || VOLATILE.some(([, p]) => p.test(v))) ? "" : v,
  );
}

function byStableContent(a: unknown, b: unknown): number {
  return stableContent(a).localeCompare(stableContent(b));
}

/** Text output compared line by line as a set, with ids blanked (e.g. a tar listing, in archive order). */
export function textLines(text: string): string[] {
  return text
    .trim()
    .split("\n")
    .map((line) => line.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<id>"))
    .sort();
}
