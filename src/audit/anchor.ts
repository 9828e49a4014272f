/**
 * Anchors: every signed checkpoint is also appended, fsynced, to a file outside the database
 * (VECTO_AUDIT_ANCHOR_DIR), one append-only JSON Lines file per log, `<log>.jsonl`, each line
 * `{"origin","size","note"}` with the C2SP signed note exactly as signed. Whoever holds only the
 * database can then no longer cut the log's tail and delete its checkpoint rows unseen: verify
 * checks the log against the highest anchor (src/audit/verify.ts). Only the note is trusted;
 * origin and size are there for a reader with grep. Lines are appended after the checkpoint row
 * committed, so the anchor is at most one checkpoint behind the database, never ahead of it.
 *
 * Each checkpoint is also logged at info (`event: "audit.checkpoint"`), so the journal a SIEM
 * collects holds a third copy.
 */
import { closeSync, constants, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../log.js";

/** One signed checkpoint to anchor: its log's name (`platform` or a tenant id) and its note. */
export interface AnchorCheckpoint {
  readonly log: string;
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Uint8Array;
  readonly note: string;
}

/** One line of an anchor file, as read back: where it is, and its note if the line parsed. */
export interface AnchorLine {
  /** `<file>:<line>`, 1-based, for messages. */
  readonly at: string;
  readonly note: string | null;
}

/** What an anchor directory holds for a log. */
/**
 * What an anchor directory holds for a log. Files are named `VECTO_AUDIT_ANCHOR_DIR/<log>.jsonl`
 * in reports, not by their path: GET /api/audit/verify shows a tenant its report, and the
 * server's directory layout is none of its business.
 */
export type AnchorRead = { readonly state: "no-directory" } | { readonly state: "no-file"; readonly name: string } | { readonly state: "lines"; readonly name: string; readonly lines: readonly AnchorLine[] };

const SETTING = "VECTO_AUDIT_ANCHOR_DIR";

function noteOf(line: string): string | null {
  try {
    const parsed: unknown = JSON.parse(line);
    const note = typeof parsed === "object" && parsed !== null ? (parsed as { note?: unknown }).note : undefined;
    return typeof note === "string" ? note : null;
  } catch {
    return null;
  }
}

/** Reads anchor lines, JSON Lines each with a `note`; a line that is not is kept, with a null note, so it is reported. */
export function anchorLines(text: string, file: string): AnchorLine[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line, i) => ({ at: `${file}:${i + 1}`, note: noteOf(line) }));
}

function endsTorn(fd: number): boolean {
  const size = fstatSync(fd).size;
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  readSync(fd, last, 0, 1, size - 1);
  return last[0] !== 0x0a;
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class AuditAnchor {
  constructor(
    readonly dir: string,
    private readonly log: Pick<Logger, "info" | "warn">,
  ) {}

  file(log: string): string {
    return join(this.dir, `${log}.jsonl`);
  }

  /**
   * Creates the directory (0700) if needed and, while it holds no anchor file, seeds it with the
   * checkpoints the database already holds (`existing`, read only then): an installation upgraded
   * from a build without anchors, or given a new (possibly pre-made) anchor mount, is anchored at
   * once. A directory holding any anchor file is never seeded again, so deleting one log's file is
   * not silently repaired (verify reports it).
   */
  ensure(existing: () => Iterable<AnchorCheckpoint>): void {
    if (existsSync(this.dir) && readdirSync(this.dir).some((name) => name.endsWith(".jsonl"))) return;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const seeded = [...existing()];
    this.write(seeded);
    fsyncDirectory(this.dir);
    this.log.warn({ dir: this.dir, checkpoints: seeded.length }, "audit anchor directory seeded with the checkpoints the database holds (it held no anchor file)");
  }

  /** Appends (O_APPEND, 0600) and fsyncs each checkpoint, then logs it for the journal. Call after the rows committed. */
  append(checkpoints: readonly AnchorCheckpoint[]): void {
    this.write(checkpoints);
    for (const cp of checkpoints) {
      this.log.info({ event: "audit.checkpoint", origin: cp.origin, size: cp.size, rootHash: Buffer.from(cp.rootHash).toString("base64"), note: cp.note }, "audit checkpoint signed");
    }
  }

  read(log: string): AnchorRead {
    if (!existsSync(this.dir)) return { state: "no-directory" };
    const file = this.file(log);
    const name = `${SETTING}/${log}.jsonl`;
    if (!existsSync(file)) return { state: "no-file", name };
    return { state: "lines", name, lines: anchorLines(readFileSync(file, "utf8"), name) };
  }

  private write(checkpoints: readonly AnchorCheckpoint[]): void {
    const byLog = new Map<string, AnchorCheckpoint[]>();
    for (const cp of checkpoints) byLog.set(cp.log, [...(byLog.get(cp.log) ?? []), cp]);
    for (const [log, list] of byLog) {
      const file = this.file(log);
      const created = !existsSync(file);
      const fd = openSync(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o600);
      try {
        // A line torn by a crash or a full disk stays on its own line (verify reports it) rather than spoiling this one.
        const lead = endsTorn(fd) ? "\n" : "";
        writeSync(fd, lead + list.map((cp) => `${JSON.stringify({ origin: cp.origin, size: cp.size, note: cp.note })}\n`).join(""));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      if (created) fsyncDirectory(this.dir);
    }
  }
}
