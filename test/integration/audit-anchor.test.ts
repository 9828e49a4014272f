/**
 * Anchors outside the database: the attacks an insider with the database file (and keys.db) can
 * make on the audit log without touching the anchor directory are each named by `vecto audit
 * verify`, run as the real CLI; an auditor's saved checkpoint catches them even when the anchor
 * is deleted too. The database is tampered as in audit-verify.test.ts: raw SQL, triggers dropped.
 */
import { copyFileSync, existsSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { checkpointOrigin, signCheckpoint } from "../../src/audit/checkpoint-format.js";
import { logName, makeCheckpoints } from "../../src/audit/checkpoints.js";
import { PLATFORM_LOG } from "../../src/db/db.js";
import { newKeyPair } from "../../src/audit/signed-note.js";
import { verifyLog } from "../../src/audit/verify.js";
import { createLogger } from "../../src/log.js";
import { identityFixture } from "../identity-fixture.js";
import { freePort, runCli, startServe, tempDir, waitForExit } from "../helpers.js";

interface Installation {
  readonly cwd: string;
  readonly data: string;
  readonly anchors: string;
  /** The platform log's anchor file. */
  readonly file: string;
  cli(args: string[]): { status: number | null; stdout: string; stderr: string };
  /** Adds `n` events to the platform log (each `audit export` records one). */
  grow(n: number): void;
  /** Signs a checkpoint; returns the platform log's note. */
  checkpoint(): { size: number; note: string };
  size(): number;
  sql(statement: string, ...params: unknown[]): void;
}

const env = { VECTO_LOG_LEVEL: "warn" };
/** How reports name the installation log's anchor file (never by its path). */
const NAME = "VECTO_AUDIT_ANCHOR_DIR/platform.jsonl";

describe("audit anchors outside the database", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((fn) => fn()));

  /** An initialised installation whose platform log is checkpointed (and anchored) once. */
  function installation(): Installation {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const cwd = dir.path;
    const data = join(cwd, "data");
    const cli = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
      runCli(args, { cwd, env });
    expect(cli(["init"]).status).toBe(0);
    const db = (): BetterSqlite3.Database => new BetterSqlite3(join(data, "vecto.db"));
    const it: Installation = {
      cwd,
      data,
      anchors: join(data, "audit-anchors"),
      file: join(data, "audit-anchors", "platform.jsonl"),
      cli,
      grow(n) {
        for (let i = 0; i < n; i++) expect(cli(["audit", "export", "--out", join(cwd, "export.jsonl")]).status).toBe(0);
      },
      checkpoint() {
        const result = cli(["audit", "checkpoint", "--json"]);
        expect(result.status, result.stderr).toBe(0);
        const made = (JSON.parse(result.stdout) as { checkpoints: { size: number; note: string }[] }).checkpoints;
        expect(made).toHaveLength(1);
        return made[0] as { size: number; note: string };
      },
      size() {
        const handle = db();
        try {
          return (handle.prepare("SELECT count(*) AS n FROM audit_events").get() as { n: number }).n;
        } finally {
          handle.close();
        }
      },
      sql(statement, ...params) {
        const handle = db();
        try {
          handle.exec("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;");
          handle.prepare(statement).run(...params);
          handle.exec(`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
            CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;`);
        } finally {
          handle.close();
        }
      },
    };
    it.grow(3);
    it.checkpoint();
    return it;
  }

  const fails = (inst: Installation, args: string[] = []): string => {
    const result = inst.cli(["audit", "verify", ...args]);
    expect(result.status, result.stdout).toBe(1);
    return result.stdout;
  };

  it("appends each checkpoint, as signed, to a 0600 file in a 0700 directory, and never rewrites it", () => {
    const inst = installation();
    expect(statSync(inst.anchors).mode & 0o777).toBe(0o700);
    expect(statSync(inst.file).mode & 0o777).toBe(0o600);
    const first = readFileSync(inst.file, "utf8");
    inst.grow(2);
    const made = inst.checkpoint();
    const text = readFileSync(inst.file, "utf8");
    expect(text.startsWith(first)).toBe(true);
    const lines = text
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { origin: string; size: number; note: string });
    expect(lines).toHaveLength(2);
    expect(lines[1]).toEqual({ origin: made.note.split("\n")[0], size: made.size, note: made.note });
    const ok = inst.cli(["audit", "verify"]);
    expect(ok.status, ok.stdout).toBe(0);
    expect(ok.stdout).toContain(`anchored at size ${made.size}`);
  });

  it("names the truncation when the tail is cut and every checkpoint row deleted", () => {
    const inst = installation();
    inst.grow(2);
    const { size } = inst.checkpoint();
    inst.sql("DELETE FROM audit_events WHERE seq >= ?", size - 3);
    inst.sql("DELETE FROM audit_checkpoints");
    expect(fails(inst)).toContain(
      `the log has ${size - 3} events, the anchor at ${NAME}:2 covers ${size} > ${size - 3}: events ${size - 3}..${size - 1} were removed`,
    );
  });

  it("names the newest checkpoint deleted, with or without the events after the one before", () => {
    const inst = installation();
    const older = inst.size();
    inst.grow(2);
    const { size } = inst.checkpoint();
    inst.sql("DELETE FROM audit_checkpoints WHERE size = ?", size);
    expect(fails(inst)).toContain(
      `the anchor at ${NAME}:2 holds a signed checkpoint at size ${size} that the database no longer has: its checkpoint was deleted`,
    );
    inst.sql("DELETE FROM audit_events WHERE seq >= ?", older);
    expect(fails(inst)).toContain(`covers ${size} > ${older}: events ${older}..${size - 1} were removed`);
  });

  it("names a rollback when an older copy of vecto.db and keys.db is put back", () => {
    const inst = installation();
    const copy = join(inst.cwd, "old");
    for (const name of ["vecto.db", "keys.db"]) copyFileSync(join(inst.data, name), `${copy}-${name}`);
    const old = inst.size();
    inst.grow(3);
    const { size } = inst.checkpoint();
    for (const name of ["vecto.db", "keys.db"]) {
      rmSync(join(inst.data, `${name}-wal`), { force: true });
      rmSync(join(inst.data, `${name}-shm`), { force: true });
      copyFileSync(`${copy}-${name}`, join(inst.data, name));
    }
    expect(fails(inst)).toContain(
      `covers ${size} > ${old}: events ${old}..${size - 1} were removed (cut from the end, or an older copy of the database was put back)`,
    );
    // The restored copy lives on past the anchored size: another history now stands where the anchored one was.
    inst.grow(size - old + 1);
    expect(fails(inst)).toContain(`the log at size ${size} does not match the anchor at ${NAME}:2: a rollback or fork`);
  });

  it("with --trusted-checkpoint, catches a truncation even when the anchors are deleted as well", () => {
    const inst = installation();
    inst.grow(2);
    const saved = join(inst.cwd, "auditor-checkpoint.txt");
    const { size, note } = inst.checkpoint();
    writeFileSync(saved, note);
    inst.sql("DELETE FROM audit_events WHERE seq >= ?", size - 2);
    inst.sql("DELETE FROM audit_checkpoints");
    rmSync(inst.anchors, { recursive: true });
    // Nothing on the box remembers the log was longer: this is what the auditor's copy is for.
    expect(inst.cli(["audit", "verify"]).status).toBe(0);
    expect(fails(inst, ["--trusted-checkpoint", saved])).toContain(
      `the trusted checkpoint ${saved} covers ${size} > ${size - 2}: events ${size - 2}..${size - 1} were removed`,
    );
    // A copy of the anchor file (JSON Lines with a note each) is accepted too.
    const lines = join(inst.cwd, "anchor-copy.jsonl");
    writeFileSync(lines, `${JSON.stringify({ note })}\n`);
    expect(fails(inst, ["--trusted-checkpoint", lines])).toContain(`the trusted checkpoint ${lines}:1 covers ${size}`);
    // A trusted file that is not signed by the installation key is refused, not believed.
    writeFileSync(saved, note.replace(/\n\n— .*$/s, "\n\n— forged AAAA\n"));
    expect(fails(inst, ["--trusted-checkpoint", saved])).toContain(
      `the trusted checkpoint ${saved} does not verify with the installation key`,
    );
  });

  it("reports a tampered or forged anchor line and does not trust it", () => {
    const inst = installation();
    const size = inst.size();
    const [line] = readFileSync(inst.file, "utf8").trimEnd().split("\n");
    const { note, origin } = JSON.parse(line ?? "") as { note: string; origin: string };
    // A forged line signed by another key claims a much longer log: it is named, not believed.
    const impostor = newKeyPair(origin);
    const forged = signCheckpoint(
      { origin, size: size + 1000, rootHash: new Uint8Array(32), time: new Date(Math.floor(Date.now() / 1000) * 1000) },
      impostor.signer,
    );
    appendFileSync(inst.file, `${JSON.stringify({ origin, size: size + 1000, note: forged })}\n`);
    const out = fails(inst);
    expect(out).toContain(
      `the anchor line ${NAME}:2 is not a checkpoint of this log signed by the installation key (edited or forged); it was not trusted`,
    );
    expect(out).not.toContain("were removed");
    // An edited genuine line: its signature no longer matches.
    writeFileSync(
      inst.file,
      `${JSON.stringify({ origin, size, note: note.replace(`\n${size}\n`, `\n${size + 1}\n`) })}\n`,
    );
    expect(fails(inst)).toContain(`the anchor line ${NAME}:1 is not a checkpoint of this log`);
    // A line torn by a crash: reported, and the next checkpoint still lands on a line of its own.
    writeFileSync(inst.file, `${line ?? ""}\n{"origin":"${origin}","si`);
    expect(fails(inst)).toContain(
      `the anchor line ${NAME}:2 is unreadable (torn by a crash or a full disk, or edited); it was not trusted`,
    );
    inst.grow(1);
    const made = inst.checkpoint();
    expect(readFileSync(inst.file, "utf8").split("\n")[2]).toBe(
      JSON.stringify({ origin, size: made.size, note: made.note }),
    );
  });

  it("seeds the anchor directory when vecto serve starts on an installation without one, and says so in its log", async () => {
    const inst = installation();
    const [existing] = readFileSync(inst.file, "utf8").split("\n");
    rmSync(inst.anchors, { recursive: true });
    const server = await startServe(inst.cwd, { VECTO_LISTEN: `127.0.0.1:${await freePort()}`, VECTO_HTTP_LISTEN: "" });
    server.child.kill("SIGTERM");
    expect(await waitForExit(server.child)).toBe(0);
    const seeded = server
      .stdout()
      .split("\n")
      .filter((line) => line.includes("audit anchor directory seeded"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(seeded).toEqual([expect.objectContaining({ level: "warn", dir: inst.anchors, checkpoints: 1 })]);
    // The seeded line first; after it, the checkpoints the server made of its own events (start-up, shutdown).
    const lines = readFileSync(inst.file, "utf8").trimEnd().split("\n");
    expect(lines[0]).toBe(existing);
    expect((JSON.parse(lines.at(-1) ?? "") as { size: number }).size).toBe(inst.size());
    expect(inst.cli(["audit", "verify"]).status).toBe(0);
  });

  it("reports a deleted or emptied anchor file or directory while the database holds checkpoints; only a directory without anchor files is seeded", () => {
    const inst = installation();
    writeFileSync(inst.file, "");
    expect(fails(inst)).toContain(
      `the anchor file ${NAME} is empty, yet the database holds 1 signed checkpoints of this log: anchors deleted?`,
    );
    rmSync(inst.file);
    expect(fails(inst)).toContain(
      `the anchor file ${NAME} is missing, yet the database holds 1 signed checkpoints of this log: anchors deleted?`,
    );
    rmSync(inst.anchors, { recursive: true });
    expect(fails(inst)).toContain("the anchor directory (VECTO_AUDIT_ANCHOR_DIR) does not exist");
    // As after an upgrade from a build without anchors: the new directory is seeded from the database, and says so.
    const seeded = inst.cli(["--verbose", "audit", "checkpoint"]);
    expect(seeded.stderr).toContain(
      "audit anchor directory seeded with the checkpoints the database holds (it held no anchor file)",
    );
    expect(readFileSync(inst.file, "utf8").trimEnd().split("\n")).toHaveLength(1);
    expect(inst.cli(["audit", "verify"]).status).toBe(0);
    // So is an empty directory an operator made for the anchors (another mount).
    rmSync(inst.file);
    expect(inst.cli(["audit", "checkpoint"]).status).toBe(0);
    expect(readFileSync(inst.file, "utf8").trimEnd().split("\n")).toHaveLength(1);
    expect(inst.cli(["audit", "verify"]).status).toBe(0);
  });

  it("does not take a checkpoint a running server commits while verify reads for a deleted one", async () => {
    const f = await identityFixture();
    cleanups.push(() => f.close());
    const { db, crypto, auditAnchor } = f.services;
    const tenant = (await f.createTenant("racing")).tenantId;
    await makeCheckpoints(db, crypto, auditAnchor);
    // The log's newest checkpoint, taken back out of the database (its anchor line stays): put
    // back between verify's reads, it is what a server checkpointing at that moment leaves.
    const row = db.auditLog.checkpoints(tenant).at(-1);
    if (row === undefined) throw new Error("no checkpoint");
    const raw = new BetterSqlite3(join(f.dataDir, "vecto.db"));
    raw.prepare("DELETE FROM audit_checkpoints WHERE tenant_id = ? AND size = ?").run(tenant, row.size);
    raw.close();
    const read = auditAnchor.read.bind(auditAnchor);
    auditAnchor.read = (log) => {
      if (log === logName(tenant) && db.auditLog.checkpoints(tenant).length === 0) db.saveCheckpoint(row);
      return read(log);
    };
    const report = await verifyLog(db, crypto, auditAnchor, tenant);
    expect(report).toMatchObject({ ok: true, checkpoints: 1, anchor: { size: row.size } });
  });

  it("does not repair one log's deleted anchor file while the directory holds others", async () => {
    const f = await identityFixture();
    cleanups.push(() => f.close());
    const { db, crypto, auditAnchor } = f.services;
    const acme = await f.createTenant("anchor-kept");
    const tenant = acme.tenantId;
    await makeCheckpoints(db, crypto, auditAnchor);
    expect(db.auditLog.logIds().length).toBeGreaterThan(1);
    const file = auditAnchor.file(logName(tenant));
    rmSync(file);
    expect(await makeCheckpoints(db, crypto, auditAnchor)).toEqual([]);
    expect(existsSync(file)).toBe(false);
    expect((await verifyLog(db, crypto, auditAnchor, tenant)).firstBad?.reason).toBe(
      `the anchor file VECTO_AUDIT_ANCHOR_DIR/${tenant}.jsonl is missing, yet the database holds 1 signed checkpoints of this log: anchors deleted?`,
    );
    for (const other of db.auditLog.logIds().filter((id) => id !== tenant))
      expect((await verifyLog(db, crypto, auditAnchor, other)).ok).toBe(true);
    // The tenant's own auditors see the failure through the API, without the server's paths.
    const api = await f.call("GET", "/api/audit/verify", { token: acme.admin.tokens.accessToken });
    const body = await api.text();
    expect(JSON.parse(body)).toMatchObject({
      report: {
        ok: false,
        firstBad: { reason: expect.stringContaining(`VECTO_AUDIT_ANCHOR_DIR/${tenant}.jsonl is missing`) },
      },
    });
    expect(body).not.toContain(f.dataDir);
  });

  it("logs each checkpoint at info for the journal, with origin, size, root hash and signed note", async () => {
    const lines: string[] = [];
    const log = createLogger("info", { write: (line: string) => lines.push(line) });
    const f = await identityFixture({ log });
    cleanups.push(() => f.close());
    const made = await makeCheckpoints(f.services.db, f.services.crypto, f.services.auditAnchor);
    expect(made.length).toBeGreaterThan(0);
    const entries = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.event === "audit.checkpoint");
    expect(entries).toEqual(
      made.map((row) =>
        expect.objectContaining({
          level: "info",
          origin: checkpointOrigin(f.services.db.installationId(), logName(row.tenantId)),
          size: row.size,
          rootHash: Buffer.from(row.rootHash).toString("base64"),
          note: row.note,
          msg: "audit checkpoint signed",
        }),
      ),
    );
    // Checkpoints made through the API are anchored too, and the API's verify reads the anchor.
    await f.call("POST", "/api/audit/checkpoints", { token: f.root.tokens.accessToken });
    const report = (await (
      await f.call("GET", "/api/audit/verify?log=platform", { token: f.root.tokens.accessToken })
    ).json()) as { report: { ok: boolean; anchor?: { size: number } } };
    expect(report.report.ok).toBe(true);
    expect(report.report.anchor?.size).toBe(f.services.db.auditLog.latestCheckpoint(PLATFORM_LOG)?.size);
  });
});
