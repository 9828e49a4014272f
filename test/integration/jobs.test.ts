/** Scheduled jobs: every run is audited in the installation's log, failures included. */
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditCheckpointJob } from "../../src/jobs/jobs.js";
import { startScheduler, type Scheduler } from "../../src/jobs/scheduler.js";
import { createLogger } from "../../src/log.js";
import { identityFixture, type Fixture } from "../identity-fixture.js";

describe("jobs", () => {
  let f: Fixture;
  let scheduler: Scheduler;

  beforeAll(async () => {
    f = await identityFixture();
    const failing = {
      name: "always-fails",
      cron: "0 0 1 1 *",
      run: async (): Promise<Record<string, number>> => Promise.reject(new Error("disk on fire")),
    };
    scheduler = startScheduler(
      [auditCheckpointJob(f.services), failing],
      f.services.identity.events,
      createLogger("silent"),
    );
  });
  afterAll(async () => {
    await scheduler.stop();
    f.close();
  });

  const jobEvents = (): { severity: string; payload: string }[] => {
    const raw = new BetterSqlite3(join(f.dataDir, "vecto.db"), { readonly: true });
    const rows = raw
      .prepare(
        "SELECT severity, payload FROM audit_events WHERE tenant_id = '_platform' AND event = 'job.run' ORDER BY seq",
      )
      .all() as { severity: string; payload: string }[];
    raw.close();
    return rows;
  };

  it("runs the checkpoint job, which signs a checkpoint of every log, and audits the run", async () => {
    await scheduler.runNow("audit-checkpoints");
    const platformTenant = f.services.db.tenants.platformTenant()?.id ?? "";
    expect(f.services.db.auditLog.latestCheckpoint(platformTenant)?.size).toBe(
      f.services.db.auditLog.size(platformTenant),
    );
    const run = jobEvents().at(-1);
    expect(JSON.parse(run?.payload ?? "{}")).toMatchObject({ job: "audit-checkpoints", ok: true });
  });

  it("audits a failing run as an error without stopping the scheduler", async () => {
    await scheduler.runNow("always-fails");
    const run = jobEvents().at(-1);
    expect(run?.severity).toBe("error");
    expect(JSON.parse(run?.payload ?? "{}")).toMatchObject({ job: "always-fails", ok: false });
    expect(run?.payload).not.toContain("disk on fire");
    await scheduler.runNow("audit-checkpoints");
    expect(JSON.parse(jobEvents().at(-1)?.payload ?? "{}")).toMatchObject({ job: "audit-checkpoints", ok: true });
  });
});
