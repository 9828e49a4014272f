/** The backup settings of the one config: defaults, paths, the schedule (a cron expression or off), the count to keep. */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../src/config.js";

const cwd = "/srv/vecto-test";
const base = { VECTO_ENV_FILE: "/dev/null" };

function failure(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env }, cwd);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected loadConfig to fail");
}

describe("backup config", () => {
  it("defaults to a nightly backup into the data dir, keeping 7", () => {
    expect(loadConfig(base, cwd).backup).toEqual({ dir: "/srv/vecto-test/data/backups", schedule: "0 3 * * *", keep: 7 });
    expect(loadConfig({ ...base, VECTO_DATA_DIR: "/var/lib/vecto" }, cwd).backup.dir).toBe("/var/lib/vecto/backups");
  });

  it("takes a directory (relative to the working directory), a schedule or off, and a count", () => {
    const config = loadConfig({ ...base, VECTO_BACKUP_DIR: "bk", VECTO_BACKUP_SCHEDULE: "30 1 * * 0", VECTO_BACKUP_KEEP: "14" }, cwd);
    expect(config.backup).toEqual({ dir: "/srv/vecto-test/bk", schedule: "30 1 * * 0", keep: 14 });
    expect(loadConfig({ ...base, VECTO_BACKUP_SCHEDULE: "off" }, cwd).backup.schedule).toBeNull();
  });

  it("refuses a schedule that is not a five-field cron expression, and a count below 1, naming the variable", () => {
    expect(failure({ VECTO_BACKUP_SCHEDULE: "daily" })).toBe('VECTO_BACKUP_SCHEDULE: expected a cron expression (minute hour day month weekday) or off (got "daily")');
    expect(failure({ VECTO_BACKUP_SCHEDULE: "*/5 * * * * *" })).toMatch(/^VECTO_BACKUP_SCHEDULE: expected a cron expression/);
    expect(failure({ VECTO_BACKUP_SCHEDULE: "61 * * * *" })).toMatch(/^VECTO_BACKUP_SCHEDULE: expected a cron expression/);
    expect(failure({ VECTO_BACKUP_KEEP: "0" })).toBe('VECTO_BACKUP_KEEP: must be greater than 0 (got "0")');
    expect(failure({ VECTO_BACKUP_KEEP: "seven" })).toMatch(/^VECTO_BACKUP_KEEP: expected a whole number/);
  });
});
