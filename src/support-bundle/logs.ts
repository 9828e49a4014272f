/**
 * Where a support bundle finds the appliance's recent logs. `vecto serve` logs JSON lines to stdout:
 * under systemd that is the journal (read with journalctl); an installation that redirects stdout
 * to a file names it with --log-file. Nothing is ever made up: when no source answers, the bundle
 * says so and why.
 */
import { spawnSync } from "node:child_process";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

export interface CollectedLogs {
  /** How the lines were obtained, for the reader of the bundle. */
  readonly source: string;
  readonly lines: readonly string[];
  /** Why there are fewer lines than one might expect (no journal, no permission, cut to the limit). */
  readonly notes: readonly string[];
}

export const MAX_LOG_LINES = 20_000;
/** A log file is read from its end, at most this much. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;

function firstLine(text: string): string {
  return (
    text
      .split("\n")
      .find((l) => l.trim() !== "")
      ?.trim() ?? ""
  );
}

/** `journalctl --unit UNIT --since @EPOCH --output cat`: the messages only, which are our JSON lines. */
export function journalLogs(unit: string, since: Date, maxLines = MAX_LOG_LINES): CollectedLogs {
  const args = [
    "--unit",
    unit,
    "--since",
    `@${Math.floor(since.getTime() / 1000)}`,
    "--output",
    "cat",
    "--no-pager",
    "--lines",
    String(maxLines),
  ];
  const source = `journalctl ${args.join(" ")}`;
  const result = spawnSync("journalctl", args, {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: 60_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (result.error !== undefined) {
    const code = (result.error as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "journalctl is not installed (no systemd journal here)"
        : `journalctl could not run: ${result.error.message}`;
    return {
      source,
      lines: [],
      notes: [`no logs available: ${why}; if vecto serve writes its output to a file, pass it with --log-file`],
    };
  }
  const notes: string[] = [];
  const stderr = firstLine(result.stderr);
  if (result.status !== 0)
    notes.push(`journalctl exited with status ${String(result.status)}${stderr === "" ? "" : `: ${stderr}`}`);
  else if (stderr !== "") notes.push(`journalctl: ${stderr}`);
  const lines = result.stdout.split("\n").filter((l) => l !== "" && l !== "-- No entries --");
  if (lines.length === 0) notes.push(`no log lines for ${unit} since ${since.toISOString()}`);
  if (lines.length >= maxLines) notes.push(`only the last ${maxLines} lines`);
  return { source, lines, notes };
}

function recordTime(line: string): number | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const time = (JSON.parse(line) as { time?: unknown }).time;
    const ms = typeof time === "number" ? time : typeof time === "string" ? Date.parse(time) : Number.NaN;
    return Number.isNaN(ms) ? undefined : ms;
  } catch {
    return undefined;
  }
}

/**
 * The lines of a log file written by `vecto serve` (JSON lines), from `since` on; other lines go with the record before
 * them.
 */
export function fileLogs(file: string, since: Date, maxLines = MAX_LOG_LINES): CollectedLogs {
  const source = `log file ${file}`;
  let text: string;
  let cut = false;
  try {
    const fd = openSync(file, "r");
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, MAX_FILE_BYTES);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      cut = size > length;
      text = buffer.toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    return {
      source,
      lines: [],
      notes: [
        `no logs available: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      ],
    };
  }
  const all = text.split("\n");
  if (cut) all.shift(); // most likely a partial line
  const lines: string[] = [];
  let inWindow = true;
  for (const line of all) {
    if (line.trim() === "") continue;
    const time = recordTime(line.trim());
    if (time !== undefined) inWindow = time >= since.getTime();
    if (inWindow) lines.push(line);
  }
  const notes: string[] = [];
  if (cut) notes.push(`only the last ${MAX_FILE_BYTES / 1024 / 1024} MiB of the file were read`);
  if (lines.length > maxLines) notes.push(`only the last ${maxLines} lines`);
  if (lines.length === 0) notes.push(`no log lines since ${since.toISOString()}`);
  return { source, lines: lines.slice(-maxLines), notes };
}
