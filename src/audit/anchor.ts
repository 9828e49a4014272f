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
 *
 * With a master key in a PKCS#11 token, the newest size and root of each log also go to a private
 * data object in the token (`vecto-audit-anchor:<origin>`, TokenRecords in src/crypto), which
 * whoever holds the whole data directory cannot write without the token's PIN: putting back an
 * older copy of the directory, anchor files and all, leaves the token ahead of the log. The token
 * value only moves forward, from a size the database holds a checkpoint at; otherwise it stays put
 * as the evidence verify reports.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { TokenRecords } from "../crypto/index.js";
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
export type AnchorRead =
  | { readonly state: "no-directory" }
  | { readonly state: "no-file"; readonly name: string }
  | { readonly state: "lines"; readonly name: string; readonly lines: readonly AnchorLine[] };

const SETTING = "VECTO_AUDIT_ANCHOR_DIR";
const TOKEN_LABEL = "vecto-audit-anchor:";

/** A log's newest size and root as the token holds them. */
export interface TokenAnchor {
  readonly size: number;
  readonly rootHash: Uint8Array;
  /** Which token, for messages (never a path). */
  readonly where: string;
}

/** What the token holds for a log: nothing to hold it in (no token), nothing yet, an anchor, or something unreadable. */
export type TokenAnchorRead =
  | { readonly state: "no-token" }
  | { readonly state: "none" }
  | { readonly state: "anchor"; readonly anchor: TokenAnchor }
  | { readonly state: "unreadable"; readonly where: string; readonly reason: string };

/** Where the token records come from: the master key ring, whose current key may change at run time. */
export interface TokenRecordSource {
  readonly tokenRecords?: TokenRecords | undefined;
}

function encodeTokenAnchor(cp: AnchorCheckpoint): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ origin: cp.origin, size: cp.size, rootHash: Buffer.from(cp.rootHash).toString("base64") }),
  );
}

function decodeTokenAnchor(bytes: Uint8Array, origin: string): { size: number; rootHash: Uint8Array } | null {
  try {
    const parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as {
      origin?: unknown;
      size?: unknown;
      rootHash?: unknown;
    };
    if (parsed.origin !== origin || !Number.isSafeInteger(parsed.size) || typeof parsed.rootHash !== "string")
      return null;
    const rootHash = new Uint8Array(Buffer.from(parsed.rootHash, "base64"));
    return rootHash.length === 32 ? { size: parsed.size as number, rootHash } : null;
  } catch {
    return null;
  }
}

function sameRoot(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

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
  /** Per origin, the token value this process last wrote or found agreeing with the database. */
  readonly #confirmed = new Map<string, string>();
  /** Per log, the newest checkpoint whose anchor line could not be written yet. */
  readonly #unwritten = new Map<string, AnchorCheckpoint>();

  constructor(
    readonly dir: string,
    private readonly log: Pick<Logger, "info" | "warn" | "error">,
    private readonly token: TokenRecordSource = {},
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
    this.log.warn(
      { dir: this.dir, checkpoints: seeded.length },
      "audit anchor directory seeded with the checkpoints the database holds (it held no anchor file)",
    );
  }

  /**
   * Appends (O_APPEND, 0600) and fsyncs each checkpoint, then logs it for the journal. Call after
   * the rows committed. When the write fails (a full disk, an unwritable mount), the newest of each
   * log is kept and written first by the next call, so the anchor catches up once it can be written.
   */
  append(checkpoints: readonly AnchorCheckpoint[]): void {
    const held = [...this.#unwritten.values()];
    const all = [
      ...held.filter((old) => !checkpoints.some((cp) => cp.log === old.log && cp.size <= old.size)),
      ...checkpoints,
    ];
    if (all.length === 0) return;
    try {
      this.write(all);
    } catch (error) {
      for (const cp of all) this.#unwritten.set(cp.log, cp);
      throw error;
    }
    this.#unwritten.clear();
    for (const cp of all) {
      this.log.info(
        {
          event: "audit.checkpoint",
          origin: cp.origin,
          size: cp.size,
          rootHash: Buffer.from(cp.rootHash).toString("base64"),
          note: cp.note,
        },
        "audit checkpoint signed",
      );
    }
  }

  read(log: string): AnchorRead {
    if (!existsSync(this.dir)) return { state: "no-directory" };
    const file = this.file(log);
    const name = `${SETTING}/${log}.jsonl`;
    if (!existsSync(file)) return { state: "no-file", name };
    return { state: "lines", name, lines: anchorLines(readFileSync(file, "utf8"), name) };
  }

  /** The token's anchor of the log with this origin; a token that cannot be read is logged and reported, not thrown. */
  async readToken(origin: string): Promise<TokenAnchorRead> {
    const records = this.token.tokenRecords;
    if (records === undefined) return { state: "no-token" };
    let values: Uint8Array[];
    try {
      values = await records.read(TOKEN_LABEL + origin);
    } catch (error) {
      this.log.warn(
        { origin, error: { name: (error as Error).name, message: (error as Error).message } },
        "the audit anchor in the token could not be read",
      );
      return {
        state: "unreadable",
        where: records.where,
        reason: "the token did not answer (the service log says why)",
      };
    }
    const decoded = values.map((value) => decodeTokenAnchor(value, origin));
    if (decoded.some((d) => d === null))
      return {
        state: "unreadable",
        where: records.where,
        reason: `a data object labelled ${TOKEN_LABEL}<origin> holds something that is not this log's anchor`,
      };
    const highest = decoded.reduce<{ size: number; rootHash: Uint8Array } | null>(
      (a, b) => (b !== null && (a === null || b.size > a.size) ? b : a),
      null,
    );
    return highest === null ? { state: "none" } : { state: "anchor", anchor: { ...highest, where: records.where } };
  }

  /**
   * Moves the token's anchor of cp's log up to cp. Not when the token holds a larger size, or a
   * size the database has no checkpoint of with that root (`known`): the database was then rolled
   * back or replaced, and the token keeps the evidence verify reports. Failures are logged, never
   * thrown: the checkpoint is already in the database and the anchor file, and the next one retries.
   */
  async toToken(cp: AnchorCheckpoint, known: (size: number, rootHash: Uint8Array) => boolean): Promise<void> {
    const records = this.token.tokenRecords;
    if (records === undefined) return;
    const read = await this.readToken(cp.origin);
    if (read.state === "unreadable") {
      this.log.error(
        { origin: cp.origin, size: cp.size, reason: read.reason },
        "audit checkpoint not anchored in the token: its anchor there is unreadable",
      );
      return;
    }
    if (read.state === "anchor") {
      const held = read.anchor;
      const key = `${held.size}:${Buffer.from(held.rootHash).toString("base64")}`;
      if (held.size === cp.size && sameRoot(held.rootHash, cp.rootHash))
        return void this.#confirmed.set(cp.origin, key);
      const agrees = held.size < cp.size && (this.#confirmed.get(cp.origin) === key || known(held.size, held.rootHash));
      if (!agrees) {
        this.log.error(
          { origin: cp.origin, size: cp.size, tokenSize: held.size },
          "audit anchor in the token NOT moved: it holds a tree size and root this database has no checkpoint of, so the database was rolled back or replaced (vecto audit verify names it)",
        );
        return;
      }
    }
    try {
      await records.replace(
        TOKEN_LABEL + cp.origin,
        encodeTokenAnchor(cp),
        (older) => (decodeTokenAnchor(older, cp.origin)?.size ?? Number.POSITIVE_INFINITY) <= cp.size,
      );
      this.#confirmed.set(cp.origin, `${cp.size}:${Buffer.from(cp.rootHash).toString("base64")}`);
    } catch (error) {
      this.log.error(
        { origin: cp.origin, size: cp.size, error: { name: (error as Error).name, message: (error as Error).message } },
        "audit checkpoint not anchored in the token (the next checkpoint tries again)",
      );
    }
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
        writeSync(
          fd,
          lead + list.map((cp) => `${JSON.stringify({ origin: cp.origin, size: cp.size, note: cp.note })}\n`).join(""),
        );
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      if (created) fsyncDirectory(this.dir);
    }
  }
}
