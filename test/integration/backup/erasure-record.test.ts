/**
 * The erasure record (src/backup/erasures.ts, erasure-journal.ts): written at the moment of an
 * erasure, carried in every later backup's header, authenticated there, and what a restore on a
 * new machine falls back to; with nothing found anywhere the restore says so.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERASED_FILE } from "../../../src/backup/erasures.js";
import { MAGIC, PREFIX_BYTES } from "../../../src/backup/format.js";
import { readBackupHeader } from "../../../src/backup/verify.js";
import { createLogger } from "../../../src/log.js";
import { freePort, runCli, startServe, tempDir, waitForExit } from "../../helpers.js";
import { identityFixture, type Fixture } from "../../identity-fixture.js";
import {
  carryBackups,
  failureLine,
  loginStatusOn,
  populate,
  restoreOnNewMachine,
  type Populated,
} from "./backup-helpers.js";

const tenantsIn = (file: string): string[] =>
  (JSON.parse(readFileSync(file, "utf8")) as { tenants: { tenantId: string }[] }).tenants.map((t) => t.tenantId);

/** Rewrites a backup's header JSON (its length prefix too), keeping every chunk as it was. */
function editHeader(file: string, change: (header: Record<string, unknown>) => void): void {
  const bytes = readFileSync(file);
  const length = bytes.readUInt32BE(MAGIC.length + 2);
  const header = JSON.parse(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + length).toString("utf8")) as Record<
    string,
    unknown
  >;
  change(header);
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const prefix = Buffer.from(bytes.subarray(0, PREFIX_BYTES));
  prefix.writeUInt32BE(json.length, MAGIC.length + 2);
  writeFileSync(file, Buffer.concat([prefix, json, bytes.subarray(PREFIX_BYTES + length)]));
}

describe("the erasure record", () => {
  let f: Fixture;
  let data: Populated;
  const scratch = tempDir("vecto-erasure-record-");
  const backups = join(scratch.path, "backups");
  let oldBackup = "";
  let newBackup = "";
  const cli = (args: string[]): ReturnType<typeof runCli> =>
    runCli(args, {
      cwd: scratch.path,
      env: { VECTO_DATA_DIR: f.dataDir, VECTO_BACKUP_DIR: backups, VECTO_LOG_LEVEL: "warn" },
    });
  const create = (): string => {
    const made = cli(["backup", "create", "--json"]);
    expect(made.status, made.stderr).toBe(0);
    return (JSON.parse(made.stdout) as { file: string }).file;
  };

  beforeAll(async () => {
    mkdirSync(backups, { mode: 0o700 });
    f = await identityFixture({ env: { VECTO_BACKUP_DIR: backups } });
    data = await populate(f, "er");
  });
  afterAll(() => {
    f.close();
    scratch.cleanup();
  });

  it("is written next to the data and in the backup directory the moment a tenant is erased, and carried in the next backup's header", async () => {
    oldBackup = create();
    expect(tenantsIn(join(backups, ERASED_FILE))).toEqual([]);
    const erase = await f.call("POST", `/api/tenants/${data.acme.tenantId}/erase`, {
      token: f.root.tokens.accessToken,
      body: { confirm: data.acme.slug },
    });
    expect(erase.status).toBe(200);
    // No backup ran since: the erasure itself wrote both files.
    for (const dir of [f.dataDir, backups]) expect(tenantsIn(join(dir, ERASED_FILE))).toEqual([data.acme.tenantId]);
    newBackup = create();
    const { header } = await readBackupHeader(newBackup);
    expect(header.erasures?.tenants.map((t) => t.tenantId)).toEqual([data.acme.tenantId]);
    expect((await readBackupHeader(oldBackup)).header.erasures).toEqual({ tenants: [], content: [] });
    f.services.close();
  });

  it("restoring the old backup on a new machine from the whole backup directory erases the tenant again; its admin cannot sign in", async () => {
    const machine = restoreOnNewMachine(f, oldBackup, scratch.path, "from-backup-dir");
    expect(machine.report.erasedAgain).toEqual([data.acme.tenantId]);
    expect(machine.report.erasureSources).toEqual([join(backups, ERASED_FILE), newBackup]);
    expect(machine.report.warnings).toEqual([]);
    // A lost record file (a failed write at erasure time, a crash after the commit) is rewritten from the audit log when vecto serve starts.
    rmSync(join(machine.dataDir, ERASED_FILE));
    expect(await loginStatusOn(machine, scratch.path, data.acme.slug, data.acme.admin.email)).toBe(401);
    expect(tenantsIn(join(machine.dataDir, ERASED_FILE))).toEqual([data.acme.tenantId]);
  });

  it("a server stopped the moment it listens still rewrites a lost record (the rewrite waits for the first requests, not for the stop)", async () => {
    const machine = restoreOnNewMachine(f, oldBackup, scratch.path, "stopped-at-once");
    rmSync(join(machine.dataDir, ERASED_FILE));
    const port = await freePort();
    const server = await startServe(
      scratch.path,
      { ...machine.env, VECTO_LISTEN: `127.0.0.1:${port}`, VECTO_LOG_LEVEL: "info", VECTO_BACKUP_SCHEDULE: "off" },
      ["--no-setup-token"],
    );
    server.child.kill("SIGTERM");
    expect(await waitForExit(server.child), server.stderr()).toBe(0);
    expect(tenantsIn(join(machine.dataDir, ERASED_FILE))).toEqual([data.acme.tenantId]);
  });

  it("restoring the old backup alone into a fresh directory says loudly that no erasure record was found; --erasures FILE supplies it", () => {
    const [alone] = carryBackups([oldBackup], join(scratch.path, "alone"));
    const bare = restoreOnNewMachine(f, alone ?? "", scratch.path, "bare");
    expect(bare.report.erasedAgain).toEqual([]);
    expect(bare.report.erasureSources).toEqual([]);
    expect(bare.report.warnings[0]).toMatch(
      /^NO ERASURE RECORD FOUND: .* Copy the whole backup directory \(not one file\), or give the record with --erasures FILE/,
    );
    const human = runCli(["backup", "restore", alone ?? "", "--yes"], {
      cwd: scratch.path,
      env: { ...bare.env, VECTO_DATA_DIR: join(scratch.path, "bare-text") },
    });
    expect(human.status, human.stderr).toBe(0);
    expect(human.stdout).toContain("warning: NO ERASURE RECORD FOUND");

    const given = restoreOnNewMachine(f, alone ?? "", scratch.path, "given", [
      "--erasures",
      join(backups, ERASED_FILE),
    ]);
    expect(given.report.erasedAgain).toEqual([data.acme.tenantId]);
    expect(given.report.warnings).toEqual([]);
  });

  it("a newer backup whose embedded record was edited is detected: the restore refuses, and verify fails", () => {
    const tampered = carryBackups([oldBackup, newBackup], join(scratch.path, "tampered"));
    const [oldCopy, newCopy] = tampered as [string, string];
    editHeader(newCopy, (header) => {
      (header.erasures as { tenants: unknown[] }).tenants = [];
    });
    const env = {
      VECTO_DATA_DIR: join(scratch.path, "tampered-machine"),
      VECTO_MASTER_KEY_FILE: join(scratch.path, "master.key"),
      VECTO_LOG_LEVEL: "warn",
    };
    const refused = runCli(["backup", "restore", oldCopy, "--yes"], { cwd: scratch.path, env });
    expect(refused.status).toBe(3);
    expect(failureLine(refused)).toMatch(
      new RegExp(
        `^vecto: refusing to restore: ${newCopy}, next to the backup, may hold a newer erasure record and cannot be trusted \\(.*fails authentication.*\\); move it out of`,
      ),
    );
    const verified = runCli(["backup", "verify", newCopy], { cwd: scratch.path, env });
    expect(verified.status).toBe(2);

    // Removing the record altogether is an edit too.
    editHeader(newCopy, (header) => {
      delete header.erasures;
    });
    const stripped = runCli(["backup", "restore", oldCopy, "--yes"], { cwd: scratch.path, env });
    expect(stripped.status).toBe(3);
    expect(failureLine(stripped)).toContain(
      `${newCopy}, next to the backup, may hold a newer erasure record and cannot be trusted`,
    );
  });
});

describe("an erasure record that cannot be written", () => {
  it("does not fail or undo the erasure: the audit event is the record, and the failure is logged", async () => {
    const lines: string[] = [];
    const f = await identityFixture({ log: createLogger("error", { write: (line: string) => void lines.push(line) }) });
    try {
      const acme = await f.createTenant("er-unwritable");
      // A directory where the file should be: every write of it fails.
      mkdirSync(join(f.dataDir, ERASED_FILE));
      const erase = await f.call("POST", `/api/tenants/${acme.tenantId}/erase`, {
        token: f.root.tokens.accessToken,
        body: { confirm: acme.slug },
      });
      expect(erase.status).toBe(200);
      expect(f.services.db.tenants.get(acme.tenantId)).toBeUndefined();
      expect(lines.join("")).toContain("the erasure is done and audited, but the erasure record could not be written");
    } finally {
      f.close();
    }
  });
});
