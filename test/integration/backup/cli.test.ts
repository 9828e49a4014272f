/** `vecto backup …` as an operator meets it: help everywhere, one-line failures, exit codes, quiet off a terminal. */
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, tempDir, type CliResult } from "../../helpers.js";
import { failureLine } from "./backup-helpers.js";

describe("vecto backup CLI", () => {
  const scratch = tempDir("vecto-backup-cli-");
  const dataDir = join(scratch.path, "data");
  const env = { VECTO_DATA_DIR: dataDir, VECTO_LOG_LEVEL: "warn" };
  const cli = (args: string[], extra: Record<string, string> = {}): CliResult =>
    runCli(args, { cwd: scratch.path, env: { ...env, ...extra } });
  const oneLineFailure = (result: CliResult, code: number, message: RegExp): void => {
    expect(result.status, result.stderr).toBe(code);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(failureLine(result)).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  };

  beforeAll(() => {
    expect(cli(["init", "--json"]).status).toBe(0);
  });
  afterAll(() => scratch.cleanup());

  it("has --help on every backup command", () => {
    for (const command of [
      ["backup"],
      ["backup", "create"],
      ["backup", "verify"],
      ["backup", "restore"],
      ["backup", "list"],
      ["backup", "rewrap"],
    ]) {
      const result = cli([...command, "--help"]);
      expect(result.status, command.join(" ")).toBe(0);
      expect(result.stdout).toContain(`Usage: vecto ${command.join(" ")}`);
    }
    expect(cli(["backup", "restore", "--help"]).stdout).toContain("--force-installation");
  });

  it("creates into the backup directory (0700, files 0600), lists it, prints no progress off a terminal", () => {
    const made = cli(["backup", "create"]);
    expect(made.status, made.stderr).toBe(0);
    expect(made.stdout).toMatch(
      /^full backup [0-9a-f-]{36} written to .*\/data\/backups\/vecto-full-\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}\.vbak \(\d+ bytes, master key env:[0-9a-f]{16}\)\n$/,
    );
    expect(made.stderr).not.toContain("\r");
    expect(statSync(join(dataDir, "backups")).mode & 0o777).toBe(0o700);
    const listed = JSON.parse(cli(["backup", "list", "--json"]).stdout) as { file: string; kind: string }[];
    expect(listed).toHaveLength(1);
    expect(listed[0]?.kind).toBe("full");
    expect(statSync(listed[0]?.file ?? "").mode & 0o777).toBe(0o600);
    expect(cli(["backup", "list"]).stdout).toMatch(/full\s+\d+\s+.*\.vbak\n$/);
  });

  it("fails with one line and the documented exit codes", () => {
    const out = join(scratch.path, "x.vbak");
    expect(cli(["backup", "create", "--out", out]).status).toBe(0);
    oneLineFailure(cli(["backup", "create", "--out", out]), 1, /x\.vbak already exists; refusing to overwrite it$/);
    oneLineFailure(
      cli(["backup", "create", "--out", out, "--dir", scratch.path]),
      1,
      /--out and --dir cannot be combined/,
    );
    oneLineFailure(cli(["backup", "create", "--tenant", "nobody"]), 1, /no tenant "nobody"/);
    oneLineFailure(
      cli(["backup", "create"], { VECTO_DATA_DIR: join(scratch.path, "empty") }),
      1,
      /no database at .*empty\/vecto\.db; run "vecto init" first/,
    );
    oneLineFailure(cli(["backup", "verify", join(scratch.path, "nope.vbak")]), 1, /nope\.vbak does not exist/);
    const junk = join(scratch.path, "junk.vbak");
    writeFileSync(junk, "hello");
    oneLineFailure(cli(["backup", "verify", junk]), 2, /junk\.vbak is truncated: it ends inside the header/);
    oneLineFailure(cli(["backup", "restore", out]), 3, /run again with --yes to confirm/);
    // Usage errors come from commander, as for every command: the error line, then the help hint.
    for (const [args, message] of [
      [["backup", "verify"], /^error: missing required argument 'file'$/],
      [["backup", "create", "--bogus"], /^error: unknown option '--bogus'$/],
    ] as const) {
      const result = cli([...args]);
      expect(result.status).toBe(1);
      expect(result.stderr.split("\n")[0]).toMatch(message);
    }
    oneLineFailure(
      cli(["backup", "create"], { VECTO_BACKUP_SCHEDULE: "every day" }),
      1,
      /VECTO_BACKUP_SCHEDULE: expected a cron expression/,
    );
    expect(existsSync(`${out}.partial`)).toBe(false);
  });

  it("verifies with --json", () => {
    const out = join(scratch.path, "y.vbak");
    expect(cli(["backup", "create", "--out", out]).status).toBe(0);
    const result = cli(["backup", "verify", out, "--json"]);
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: true,
      kind: "full",
      files: [{ name: "vecto.db" }, { name: "keys.db" }],
    });
  });
});
