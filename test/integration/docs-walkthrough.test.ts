/**
 * The curl walkthroughs of the docs, run exactly as written against a real `vecto serve` with the
 * embedded default (what `npm start` runs), one fresh server per walkthrough. The commands come
 * from the doc itself, and each answer is compared with the one the doc shows: same fields, same
 * values, ids and tokens of the same kind (each id the doc shows standing for one id of the run).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runWalkthrough, ShapeCheck, textLines, walkthroughSteps, type WalkthroughStep } from "../doc-walkthrough.js";
import { CLI, cleanEnv, freePort, ROOT, startServe, tempDir, waitForExit } from "../helpers.js";

const DOC_ADDRESS = "V=https://127.0.0.1:8443";

/** The doc's default address, pointed at the test's port: the one line the test changes. */
function atPort(steps: readonly WalkthroughStep[], port: number): WalkthroughStep[] {
  expect(steps[0]?.script).toContain(DOC_ADDRESS);
  return steps.map((step) => ({ ...step, script: step.script.replace(DOC_ADDRESS, `V=https://127.0.0.1:${port}`) }));
}

/** What the doc shows against what was printed, as a list of differences. */
function differences(check: ShapeCheck, step: WalkthroughStep, output: string): string[] {
  const printed = output.trim();
  if (step.shown === undefined)
    return printed === "" ? [] : [`the doc shows no output, the product printed ${printed.slice(0, 200)}`];
  if (step.shown.kind === "text") {
    const [shown, actual] = [textLines(step.shown.text), textLines(printed)];
    return shown.join("\n") === actual.join("\n")
      ? []
      : [`the doc shows the lines ${JSON.stringify(shown)}, the product printed ${JSON.stringify(actual)}`];
  }
  let actual: unknown;
  try {
    actual = JSON.parse(printed);
  } catch {
    return [`the doc shows JSON, the product printed ${printed.slice(0, 200)}`];
  }
  return check.compare(JSON.parse(step.shown.text), actual);
}

describe.each([
  { doc: "docs/graph.md", heading: "## Walkthrough with curl" },
  { doc: "docs/authentication.md", heading: "## Walkthrough with curl" },
  { doc: "docs/signing.md", heading: "## Walkthrough with curl" },
  { doc: "docs/agents.md", heading: "## Connecting an MCP client" },
])("$doc, $heading", ({ doc, heading }) => {
  const steps = walkthroughSteps(readFileSync(join(ROOT, doc), "utf8"), heading);
  const scratch = tempDir();
  let server: Awaited<ReturnType<typeof startServe>> | undefined;
  let port = 0;

  beforeAll(async () => {
    port = await freePort();
    // The embedded default in a fresh directory, as `npm start` runs it: data in ./data.
    server = await startServe(scratch.path, { VECTO_LISTEN: `127.0.0.1:${port}`, VECTO_BACKUP_SCHEDULE: "off" }, [
      "--no-setup-token",
    ]);
  });

  afterAll(async () => {
    if (server) {
      server.child.kill("SIGTERM");
      await waitForExit(server.child);
    }
    scratch.cleanup();
  });

  it("has steps, and shows what each step that prints something prints", () => {
    expect(steps.length).toBeGreaterThan(5);
    expect(steps.filter((step) => step.shown !== undefined).length).toBeGreaterThan(5);
  });

  it("runs as written, and every answer has the fields and values the doc shows", () => {
    // `vecto` as docs/operator-guide.md, "Running vecto commands", defines it for a source checkout.
    const prelude = `vecto() { node ${JSON.stringify(CLI)} "$@"; }`;
    const run = runWalkthrough(atPort(steps, port), {
      prelude,
      cwd: scratch.path,
      env: cleanEnv({ TMPDIR: scratch.path }),
    });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(run.outputs).toHaveLength(steps.length);
    const check = new ShapeCheck();
    const report = steps.flatMap((step, index) =>
      differences(check, step, run.outputs[index] ?? "").map(
        (d) => `step ${index + 1} (${step.script.split("\n")[0]}): ${d}`,
      ),
    );
    expect(report).toEqual([]);
  });
});
