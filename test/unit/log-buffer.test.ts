/**
 * The server's log destination (src/log-buffer.ts): the lines of one turn of the event loop are
 * written together at its end, in order; past 16 KiB at once; and a process that exits, or dies
 * of an uncaught exception, writes what is pending before it goes.
 */
import { spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bufferedLines } from "../../src/log-buffer.js";
import { tempDir } from "../helpers.js";

const endOfTurn = (): Promise<void> => new Promise((done) => setImmediate(done));
const MODULE = resolve(import.meta.dirname, "../../src/log-buffer.ts");

describe("buffered log lines", () => {
  let dir: { path: string; cleanup: () => void };
  let file: string;
  let fd: number;

  beforeEach(() => {
    dir = tempDir("vecto-log-buffer-");
    file = join(dir.path, "out.log");
    fd = openSync(file, "w");
  });
  afterEach(() => {
    closeSync(fd);
    dir.cleanup();
  });

  it("keeps a turn's lines and writes them at its end, in the order they came", async () => {
    const out = bufferedLines(fd);
    out.write('{"n":1}\n');
    out.write('{"n":2}\n');
    out.write('{"n":3}\n');
    expect(readFileSync(file, "utf8")).toBe("");
    await endOfTurn();
    expect(readFileSync(file, "utf8")).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
  });

  it("is one buffer per descriptor: two loggers on it keep their lines in order", async () => {
    bufferedLines(fd).write("a\n");
    bufferedLines(fd).write("b\n");
    expect(bufferedLines(fd)).toBe(bufferedLines(fd));
    await endOfTurn();
    expect(readFileSync(file, "utf8")).toBe("a\nb\n");
  });

  it("writes at once when 16 KiB are pending", () => {
    const out = bufferedLines(fd);
    const line = `${"x".repeat(1023)}\n`;
    for (let i = 0; i < 16; i++) out.write(line);
    expect(readFileSync(file, "utf8")).toBe(line.repeat(16));
  });

  it.each([
    ["process.exit()", "process.exit(3)", 3],
    ["an uncaught exception", 'throw new Error("crash")', 1],
  ])("writes what is pending when the process ends by %s", (_how, end, code) => {
    const script =
      `const { bufferedLines } = await import(${JSON.stringify(MODULE)});` +
      `const out = bufferedLines(1); out.write("first\\n"); out.write("last\\n"); ${end};`;
    const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.status).toBe(code);
    expect(run.stdout).toBe("first\nlast\n");
  });
});
