/**
 * CLI hygiene (issue 13, point 5), through the built bundle as an operator runs it: a command piped
 * into `head` ends quietly with exit 0; a successful command writes nothing on stderr unless
 * --verbose asks for the log; every tenant-taking command takes a slug as well as an id; a failed
 * audit export leaves no file and no audit.exported event; --slice speaks its inclusive FIRST-LAST.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Database, PLATFORM_LOG } from "../../src/db/db.js";
import { CLI, cleanEnv, runCli, tempDir, testDir, type CliResult } from "../helpers.js";
import { identityFixture, type TenantAccount } from "../identity-fixture.js";

/** Enough platform events that an export is far larger than a pipe's buffer: head closes it mid-stream. */
const BULK_EVENTS = 600;

describe("CLI hygiene", { timeout: 180_000 }, () => {
  const own = tempDir("vecto-cli-hygiene-");
  const cwd = own.path;
  const dataDir = join(cwd, "data");
  const backups = join(cwd, "backups");
  const env = { VECTO_DATA_DIR: dataDir };
  let acme: TenantAccount;

  beforeAll(async () => {
    const f = await identityFixture();
    acme = await f.createTenant("hygiene-acme");
    const token = acme.admin.tokens.accessToken;
    const pid = (
      (await (await f.call("POST", "/api/projects", { token, body: { name: "Orion" } })).json()) as {
        project: { id: string };
      }
    ).project.id;
    await f.call("POST", `/api/projects/${pid}/nodes`, {
      token,
      body: { type: "task", title: "Sealed title", body: "sealed body" },
    });
    for (let i = 0; i < BULK_EVENTS; i++)
      f.services.identity.events.emit({
        event: "auth.jwt_key_rotated",
        sensitivity: "security",
        severity: "info",
        tenantId: null,
        actor: { type: "system", id: "test" },
        payload: { kid: `k-${i}` },
      });
    f.services.close();
    cpSync(f.dataDir, dataDir, { recursive: true });
    f.close();
    for (const args of [
      ["audit", "checkpoint"],
      ["backup", "create", "--dir", backups],
    ]) {
      const r = cli(args);
      expect(r.status, r.stderr).toBe(0);
    }
  }, 120_000);
  afterAll(() => own.cleanup());

  /** The CLI with the test's data directory and the default VECTO_LOG_LEVEL=info of cleanEnv. */
  const cli = (args: string[]): CliResult => runCli(args, { cwd, env });

  /** The exported-audit events of the installation log, read from the database itself. */
  function exportedEvents(): number {
    const db = Database.open(join(dataDir, "vecto.db"), { readonly: true });
    try {
      return db.auditLog.filtered(PLATFORM_LOG, { event: "audit.exported", afterSeq: -1, limit: 100_000 }).length;
    } finally {
      db.close();
    }
  }

  describe("piped into a reader that stops early", () => {
    /** `vecto ARGS | READER` in a real shell pipe; the CLI's exit status is appended to its stderr. */
    function piped(args: string[], reader: string): CliResult {
      const script = `{ "$0" "$@"; echo "exit $?" >&2; } | ${reader}`;
      const r = spawnSync("sh", ["-c", script, process.execPath, CLI, ...args], {
        cwd,
        env: cleanEnv(env),
        encoding: "utf8",
        timeout: 60_000,
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    it("| head -1 on an export far larger than the pipe: the first line, exit 0, nothing on stderr", () => {
      for (const args of [
        ["audit", "export"],
        ["audit", "export", "--format", "csv"],
        ["audit", "export", "--bundle"],
      ]) {
        const r = piped(args, "head -1");
        expect(r.stderr, args.join(" ")).toBe("exit 0\n");
        expect(r.stdout.split("\n"), args.join(" ")).toHaveLength(2);
        expect(r.stdout.length, args.join(" ")).toBeGreaterThan(10);
      }
    });

    it("a reader that reads nothing and exits (| true): every printing command ends quietly with exit 0", () => {
      const commands = [
        ["audit", "export"],
        ["keys", "status"],
        ["keys", "status", "--json"],
        ["backup", "list"],
        ["license", "show"],
        ["audit", "verify"],
        ["audit", "verify", "--print-key"],
        ["--help"],
        ["version"],
      ];
      for (const args of commands) {
        const r = piped(args, "true");
        expect(r.stderr, args.join(" ")).toBe("exit 0\n");
      }
    });

    it("a key command whose reader went away still does all its work", () => {
      const before = JSON.parse(cli(["keys", "status", "--json"]).stdout) as {
        tenants: { tenantId: string; versions: unknown[] }[];
      };
      const versions = (status: typeof before): number =>
        status.tenants.find((t) => t.tenantId === acme.tenantId)?.versions.length ?? 0;
      const r = piped(["keys", "rotate-tenant", "--all"], "true");
      expect(r.stderr).toBe("exit 0\n");
      expect(versions(JSON.parse(cli(["keys", "status", "--json"]).stdout) as typeof before)).toBe(
        versions(before) + 1,
      );
    });
  });

  describe("logging", () => {
    it("successful commands write nothing on stderr, though VECTO_LOG_LEVEL is info and they write audit events", () => {
      const commands = [
        ["keys", "status"],
        ["keys", "rotate-tenant", "hygiene-acme"],
        ["keys", "rotate-jwt"],
        ["backup", "create", "--dir", backups],
        ["audit", "verify"],
        ["audit", "checkpoint"],
        ["audit", "export", "--log", "hygiene-acme", "--event", "keys.dek_rotated"],
        ["usage", "export", "--from", "2026-01-01", "--to", "2026-01-02"],
        ["license", "show"],
      ];
      for (const args of commands) {
        const r = cli(args);
        expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(0);
        expect(r.stderr, args.join(" ")).toBe("");
        expect(r.stdout, args.join(" ")).not.toBe("");
      }
    });

    it("init says its warnings (a development key, a self-signed certificate) as plain lines, not JSON", () => {
      const fresh = testDir("vecto-cli-init-");
      const r = runCli(["init"], { cwd: fresh, env: { VECTO_DATA_DIR: join(fresh, "data") } });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr.trim().split("\n")).toEqual([
        expect.stringMatching(/^warning: generated a DEV-ONLY master key inside the data directory; /),
        expect.stringMatching(/^warning: generated a self-signed TLS certificate; /),
      ]);
    });

    it("--verbose (before or after the command) or -v writes the JSON log lines, at least info", () => {
      for (const args of [
        ["--verbose", "keys", "rotate-tenant", "hygiene-acme"],
        ["keys", "rotate-tenant", "hygiene-acme", "--verbose"],
        ["-v", "keys", "rotate-jwt"],
      ]) {
        const r = runCli(args, { cwd, env: { ...env, VECTO_LOG_LEVEL: "error" } });
        expect(r.status, r.stderr).toBe(0);
        const lines = r.stderr
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { level: string; msg: string });
        expect(
          lines.map((l) => l.msg),
          args.join(" "),
        ).toContain(args.includes("rotate-jwt") ? "auth.jwt_key_rotated" : "keys.dek_rotated");
        expect(lines.every((l) => l.level === "info")).toBe(true);
      }
      expect(cli(["--help"]).stdout).toMatch(/-v, --verbose +write JSON log lines to stderr/);
    });

    it("a failure is one plain line on stderr, also one that records an error event", () => {
      const corrupt = join(cwd, "corrupt.vbak");
      writeFileSync(corrupt, "not a backup");
      for (const args of [
        ["keys", "rotate-tenant", "no-such-tenant"],
        ["backup", "verify", corrupt],
        ["audit", "export", "--log", "nobody"],
      ]) {
        const r = cli(args);
        expect(r.status, args.join(" ")).not.toBe(0);
        expect(r.stderr.split("\n").filter(Boolean), args.join(" ")).toEqual([expect.stringMatching(/^vecto: [^{]/)]);
      }
    });
  });

  describe("a tenant by id or slug", () => {
    const dekVersions = (): number =>
      (
        JSON.parse(cli(["keys", "status", "--json"]).stdout) as { tenants: { tenantId: string; versions: unknown[] }[] }
      ).tenants.find((t) => t.tenantId === acme.tenantId)?.versions.length ?? 0;

    it("keys rotate-tenant and keys reencrypt --tenant take either", () => {
      for (const name of ["hygiene-acme", acme.tenantId]) {
        const before = dekVersions();
        const rotated = cli(["keys", "rotate-tenant", name, "--json"]);
        expect(rotated.status, rotated.stderr).toBe(0);
        expect(JSON.parse(rotated.stdout)).toEqual([{ tenantId: acme.tenantId, version: before + 1 }]);
        const re = cli(["keys", "reencrypt", "--tenant", name, "--json"]);
        expect(re.status, re.stderr).toBe(0);
        expect(JSON.parse(re.stdout)).toMatchObject([{ tenantId: acme.tenantId, remaining: 0 }]);
      }
    });

    it("backup create --tenant and audit export --log take either", () => {
      for (const name of ["hygiene-acme", acme.tenantId]) {
        const made = cli(["backup", "create", "--tenant", name, "--dir", backups, "--json"]);
        expect(made.status, made.stderr).toBe(0);
        const created = JSON.parse(made.stdout) as { kind: string; keyOwner: string; file: string };
        expect(created).toMatchObject({ kind: "tenant", keyOwner: acme.tenantId });
        const verified = cli(["backup", "verify", created.file]);
        expect(verified.status, verified.stderr).toBe(0);
        const exported = cli(["audit", "export", "--log", name]);
        expect(exported.status, exported.stderr).toBe(0);
        expect(
          new Set(
            exported.stdout
              .trim()
              .split("\n")
              .map((l) => (JSON.parse(l) as { log: string }).log),
          ),
        ).toEqual(new Set([acme.tenantId]));
      }
    });

    it("an unknown tenant is one line naming it, for every tenant-taking command", () => {
      const cases: [string[], string][] = [
        [["keys", "rotate-tenant", "nope"], 'vecto: no tenant "nope": expected a tenant id or slug'],
        [["keys", "reencrypt", "--tenant", "nope"], 'vecto: no tenant "nope": expected a tenant id or slug'],
        [
          ["backup", "create", "--tenant", "nope", "--dir", backups],
          'vecto: no tenant "nope": expected a tenant id or slug',
        ],
        [
          ["backup", "create", "--tenant", "platform", "--dir", backups],
          'vecto: no tenant "platform": expected a tenant id or slug',
        ],
        [
          ["audit", "export", "--log", "nope"],
          'vecto: no audit log "nope": expected "platform", a tenant id or a tenant slug',
        ],
      ];
      for (const [args, line] of cases) {
        const r = cli(args);
        expect(r.status, args.join(" ")).toBe(1);
        expect(r.stderr, args.join(" ")).toBe(`${line}\n`);
      }
    });
  });

  describe("audit export to a file", () => {
    const partials = (): string[] => readdirSync(cwd).filter((name) => name.includes(".partial"));

    it("a failed export leaves no file, keeps an existing one as it was, and records no audit.exported", () => {
      const before = exportedEvents();
      const fresh = join(cwd, "fresh.audit");
      const failed = cli(["audit", "export", "--bundle", "--slice", "5-9999999", "--out", fresh]);
      expect(failed.status).toBe(1);
      expect(failed.stderr).toMatch(
        /^vecto: --slice 5-9999999: events 5-9999999 are not all under the newest signed checkpoint, which covers events 0-\d+ \(vecto audit checkpoint signs newer ones\)\n$/,
      );
      expect(existsSync(fresh)).toBe(false);

      const kept = join(cwd, "kept.audit");
      writeFileSync(kept, "an earlier export\n");
      expect(cli(["audit", "export", "--bundle", "--slice", "5-9999999", "--out", kept]).status).toBe(1);
      expect(readFileSync(kept, "utf8")).toBe("an earlier export\n");

      expect(cli(["audit", "export", "--bundle", "--slice", "5-9999999"]).stdout).toBe("");
      expect(cli(["audit", "export", "--out", join(cwd, "no-such-dir", "x.jsonl")]).status).toBe(1);
      expect(partials()).toEqual([]);
      expect(exportedEvents()).toBe(before);
    });

    it("a successful export replaces the file whole (0600) and records one audit.exported", () => {
      const before = exportedEvents();
      const out = join(cwd, "replaced.jsonl");
      writeFileSync(out, "old content\n", { mode: 0o644 });
      const r = cli(["audit", "export", "--event", "auth.jwt_key_rotated", "--out", out]);
      expect(r.status, r.stderr).toBe(0);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      const lines = readFileSync(out, "utf8").trim().split("\n");
      expect(lines.length).toBeGreaterThanOrEqual(BULK_EVENTS);
      expect(lines.every((l) => (JSON.parse(l) as { event: string }).event === "auth.jwt_key_rotated")).toBe(true);
      expect(partials()).toEqual([]);
      expect(exportedEvents()).toBe(before + 1);
    });
  });

  describe("--slice FIRST-LAST, both included, in and out", () => {
    it("the help, the slice and the offline verification all say FIRST-LAST inclusive", () => {
      expect(cli(["audit", "export", "--help"]).stdout.replace(/\s+/g, " ")).toContain(
        "--slice <first-last> with --bundle: only events FIRST to LAST, both included (seq numbers, e.g. 100-199)",
      );
      const out = join(cwd, "slice.audit");
      const made = cli(["audit", "export", "--bundle", "--slice", "3-7", "--out", out]);
      expect(made.status, made.stderr).toBe(0);
      const events = readFileSync(out, "utf8")
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => (JSON.parse(l) as { seq: number }).seq);
      expect(events).toEqual([3, 4, 5, 6, 7]);
      const key = cli(["audit", "verify", "--print-key", "--log", "platform"]).stdout.trim();
      const verified = cli(["audit", "verify", "--file", out, "--key", key]);
      expect(verified.stdout).toBe("ok    platform: 5 events (3-7), 1 signed checkpoints, verified offline\n");
      const single = cli(["audit", "export", "--bundle", "--slice", "3-3"]);
      expect(single.stdout.trim().split("\n")).toHaveLength(2);
      expect(cli(["audit", "export", "--bundle", "--slice", "7-3"]).stderr).toBe(
        'vecto: invalid --slice: expected FIRST-LAST event seq numbers, both included, e.g. 100-199 (got "7-3")\n',
      );
    });
  });
});
