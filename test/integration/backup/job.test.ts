/** The scheduled backup job: each run backs up, verifies, keeps the newest N, records erasures, and is audited (failures too). */
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERASED_FILE } from "../../../src/backup/erasures.js";
import { privateWorkDir } from "../../../src/backup/files.js";
import { readBackupHeader, verifyBackup } from "../../../src/backup/verify.js";
import { backupJob } from "../../../src/jobs/jobs.js";
import { startScheduler, type Scheduler } from "../../../src/jobs/scheduler.js";
import { createLogger } from "../../../src/log.js";
import { tempDir } from "../../helpers.js";
import { identityFixture, type Fixture } from "../../identity-fixture.js";
import { carryBackups, loginStatusOn, populate, restoreOnNewMachine, type Populated } from "./backup-helpers.js";

describe("scheduled backup job", () => {
  let f: Fixture;
  let data: Populated;
  let scheduler: Scheduler;
  const scratch = tempDir("vecto-backup-job-");
  const backupDir = join(scratch.path, "backups");
  const notADir = join(scratch.path, "a-file");

  const events = (): { event: string; severity: string; payload: Record<string, unknown> }[] => {
    const raw = new BetterSqlite3(join(f.dataDir, "vecto.db"), { readonly: true });
    const rows = raw
      .prepare(
        "SELECT event, severity, payload FROM audit_events WHERE tenant_id = '_platform' AND (event LIKE 'backup.%' OR event = 'job.run') ORDER BY seq",
      )
      .all() as { event: string; severity: string; payload: string }[];
    raw.close();
    return rows.map((r) => ({ ...r, payload: JSON.parse(r.payload) as Record<string, unknown> }));
  };

  beforeAll(async () => {
    f = await identityFixture();
    data = await populate(f, "job");
    writeFileSync(notADir, "not a directory");
    const base = { dataDir: f.dataDir, databaseFile: join(f.dataDir, "vecto.db") };
    const good = backupJob(
      f.services,
      { ...base, backup: { dir: backupDir, keep: 2, schedule: "0 3 * * *" } },
      "0 3 * * *",
    );
    const broken = {
      ...backupJob(
        f.services,
        { ...base, backup: { dir: join(notADir, "backups"), keep: 2, schedule: "0 3 * * *" } },
        "0 3 * * *",
      ),
      name: "backup-broken",
    };
    scheduler = startScheduler([good, broken], f.services.identity.events, createLogger("silent"));
  });
  afterAll(async () => {
    await scheduler.stop();
    f.close();
    scratch.cleanup();
  });

  it("keeps the newest N verified backups, private, and audits each run", async () => {
    for (let i = 0; i < 4; i++) await scheduler.runNow("backup");
    const runs = events().filter((e) => e.event === "job.run" && e.payload.job === "backup");
    expect(runs).toHaveLength(4);
    expect(runs.every((r) => r.payload.ok === true)).toBe(true);
    const made = runs.map((r) => String(r.payload.file));
    const kept = readdirSync(backupDir)
      .filter((n) => n.endsWith(".vbak"))
      .sort();
    expect(kept).toEqual(made.slice(2).sort());
    expect(statSync(backupDir).mode & 0o777).toBe(0o700);
    for (const name of kept) {
      expect(statSync(join(backupDir, name)).mode & 0o777).toBe(0o600);
      const work = await privateWorkDir(f.dataDir, "test-verify");
      try {
        expect((await verifyBackup(join(backupDir, name), { resolver: f.services.resolver }, work.path)).kind).toBe(
          "full",
        );
      } finally {
        await work.remove();
      }
    }
    const names = events().map((e) => e.event);
    expect(names.filter((n) => n === "backup.created")).toHaveLength(4);
    expect(names.filter((n) => n === "backup.verified")).toHaveLength(4);
    expect(readdirSync(f.dataDir).filter((n) => n.startsWith("."))).toEqual([]);
  });

  it("records erasures next to the data and next to the backups", async () => {
    const erase = await f.call("POST", `/api/tenants/${data.beta.tenantId}/erase`, {
      token: f.root.tokens.accessToken,
      body: { confirm: data.beta.slug },
    });
    expect(erase.status).toBe(200);
    // Recorded next to the data by the erasure itself, before any backup runs.
    expect(
      (
        JSON.parse(readFileSync(join(f.dataDir, ERASED_FILE), "utf8")) as { tenants: { tenantId: string }[] }
      ).tenants.map((t) => t.tenantId),
    ).toEqual([data.beta.tenantId]);
    await scheduler.runNow("backup");
    for (const dir of [f.dataDir, backupDir]) {
      const record = JSON.parse(readFileSync(join(dir, ERASED_FILE), "utf8")) as { tenants: { tenantId: string }[] };
      expect(record.tenants.map((t) => t.tenantId)).toEqual([data.beta.tenantId]);
    }
    expect(readdirSync(backupDir).filter((n) => n.endsWith(".vbak"))).toHaveLength(2);
  });

  it("a scheduled backup from before the erasure, restored on a new machine from the backup directory, erases the tenant again; its admin cannot sign in", async () => {
    const [before, after] = readdirSync(backupDir)
      .filter((n) => n.endsWith(".vbak"))
      .sort();
    const { header } = await readBackupHeader(join(backupDir, after ?? ""));
    expect(header.erasures?.tenants.map((t) => t.tenantId)).toEqual([data.beta.tenantId]);
    // Only the backups travel: the newer one's header is the record.
    const [oldCopy] = carryBackups(
      [join(backupDir, before ?? ""), join(backupDir, after ?? "")],
      join(scratch.path, "carried"),
    );
    const machine = restoreOnNewMachine(f, oldCopy ?? "", scratch.path);
    expect(machine.report.erasedAgain).toEqual([data.beta.tenantId]);
    expect(machine.report.warnings).toEqual([]);
    expect(await loginStatusOn(machine, scratch.path, data.beta.slug, data.beta.admin.email)).toBe(401);
    expect(await loginStatusOn(machine, scratch.path, data.acme.slug, data.acme.admin.email)).toBe(200);
  });

  it("audits a failing run as an error, without secrets or paths in the payload", async () => {
    await scheduler.runNow("backup-broken");
    const [failed, run] = events().slice(-2);
    expect(failed?.event).toBe("backup.failed");
    expect(failed?.severity).toBe("error");
    expect(failed?.payload).toMatchObject({ operation: "scheduled" });
    expect(run?.event).toBe("job.run");
    expect(run?.payload).toMatchObject({ job: "backup-broken", ok: false });
  });
});
