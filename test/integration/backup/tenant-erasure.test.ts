/**
 * Per-tenant backups (sealed with the tenant's key: unreadable once the tenant is crypto-shredded)
 * and GDPR erasure across a full restore (a tenant erased after a backup stays erased when that
 * backup is restored, here or on a new machine).
 */
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERASED_FILE } from "../../../src/backup/erasures.js";
import { privateWorkDir } from "../../../src/backup/files.js";
import { verifyBackup } from "../../../src/backup/verify.js";
import { migrations } from "../../../src/db/migrations/index.js";
import { runCli, tempDir } from "../../helpers.js";
import { identityFixture, type Fixture } from "../../identity-fixture.js";
import {
  carryBackups,
  failureLine,
  loginStatusOn,
  populate,
  restoreOnNewMachine,
  type Populated,
} from "./backup-helpers.js";

/** Tables whose migration declares `tenant_id ... NOT NULL` (the tenancy test's rule) and that exist now. */
function tenantOwnedTables(dbFile: string): string[] {
  const declared = new Set<string>();
  for (const m of migrations) {
    for (const match of m.sql.matchAll(
      /CREATE TABLE\s+(?:IF NOT EXISTS\s+)?(\w+)\s*\(([\s\S]*?)\)\s*(?:STRICT|WITHOUT ROWID|;)/gi,
    )) {
      if (/^\s*tenant_id\s+TEXT\s+NOT NULL/im.test(match[2] ?? "")) declared.add((match[1] ?? "").toLowerCase());
    }
  }
  const db = new BetterSqlite3(dbFile, { readonly: true });
  const existing = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
    (r) => r.name,
  );
  db.close();
  return existing.filter((t) => declared.has(t)).sort();
}

describe("tenant backups and erasure", () => {
  let f: Fixture;
  let data: Populated;
  const scratch = tempDir("vecto-tenant-backup-");
  const backups = join(scratch.path, "backups");
  const acmeBackup = join(backups, "acme.vbak");
  const betaBackup = join(backups, "beta.vbak");
  const fullBackup = join(backups, "full-before-erasure.vbak");
  const cli = (args: string[], extra: Record<string, string> = {}): ReturnType<typeof runCli> =>
    runCli(args, { cwd: scratch.path, env: { VECTO_DATA_DIR: f.dataDir, VECTO_LOG_LEVEL: "warn", ...extra } });

  beforeAll(async () => {
    f = await identityFixture();
    data = await populate(f, "tb");
    mkdirSync(backups, { mode: 0o700 });
  });
  afterAll(() => {
    f.close();
    scratch.cleanup();
  });

  it("holds the tenant's rows of every tenant-owned table, still sealed, and verifies with the tenant's key", async () => {
    for (const [slug, out] of [
      [data.acme.slug, acmeBackup],
      [data.beta.slug, betaBackup],
    ] as const) {
      const made = cli(["backup", "create", "--tenant", slug, "--out", out, "--json"]);
      expect(made.status, made.stderr).toBe(0);
      expect(statSync(out).mode & 0o777).toBe(0o600);
    }
    const bytes = readFileSync(acmeBackup);
    for (const secret of ["Keep encrypted backups", "Authenticated chunks", data.acme.admin.email])
      expect(bytes.includes(Buffer.from(secret))).toBe(false);

    const verified = cli(["backup", "verify", acmeBackup, "--json"]);
    expect(verified.status, verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout) as {
      kind: string;
      keyOwner: string;
      files: { name: string; rows: number }[];
    };
    expect(report.kind).toBe("tenant");
    expect(report.keyOwner).toBe(data.acme.tenantId);
    const owned = tenantOwnedTables(join(f.dataDir, "vecto.db"));
    expect(owned).toEqual(expect.arrayContaining(["users", "projects", "nodes", "edges", "audit_events"]));
    expect(report.files.map((x) => x.name)).toEqual(["tenants.jsonl", ...owned.map((t) => `${t}.jsonl`)]);
    expect(report.files.find((x) => x.name === "nodes.jsonl")?.rows).toBe(2);
    expect(report.files.find((x) => x.name === "users.jsonl")?.rows).toBe(2);

    // Inside: only this tenant's rows, content columns still sealed.
    const work = await privateWorkDir(f.dataDir, "test-verify");
    try {
      await verifyBackup(acmeBackup, { crypto: f.services.crypto }, work.path);
      for (const name of readdirSync(work.path)) {
        for (const line of readFileSync(join(work.path, name), "utf8")
          .split("\n")
          .filter((l) => l !== "")) {
          const row = JSON.parse(line) as Record<string, unknown>;
          expect(name === "tenants.jsonl" ? row.id : row.tenant_id).toBe(data.acme.tenantId);
        }
      }
      const node = JSON.parse(readFileSync(join(work.path, "nodes.jsonl"), "utf8").split("\n")[0] ?? "{}") as {
        title_enc: { base64: string };
      };
      expect(typeof node.title_enc.base64).toBe("string");
    } finally {
      await work.remove();
    }
  });

  it("can no longer be opened once the tenant is erased (crypto-shredded); other tenants' still can", async () => {
    const full = cli(["backup", "create", "--out", fullBackup]);
    expect(full.status, full.stderr).toBe(0);
    const erase = await f.call("POST", `/api/tenants/${data.acme.tenantId}/erase`, {
      token: f.root.tokens.accessToken,
      body: { confirm: data.acme.slug },
    });
    expect(erase.status).toBe(200);
    const refused = cli(["backup", "verify", acmeBackup]);
    expect(refused.status).toBe(2);
    expect(failureLine(refused)).toBe(
      `vecto: tenant ${data.acme.tenantId} has no data key here for this backup (it was erased: its keys were destroyed); this tenant backup can no longer be opened`,
    );
    expect(cli(["backup", "verify", betaBackup]).status).toBe(0);
  });

  it("a full backup from before the erasure does not bring the tenant back when restored here", () => {
    f.services.close();
    const restored = cli(["backup", "restore", fullBackup, "--yes", "--json"]);
    expect(restored.status, restored.stderr).toBe(0);
    expect((JSON.parse(restored.stdout) as { erasedAgain: string[] }).erasedAgain).toEqual([data.acme.tenantId]);
    expectErased(f.dataDir);
    const record = JSON.parse(readFileSync(join(f.dataDir, ERASED_FILE), "utf8")) as {
      tenants: { tenantId: string }[];
    };
    expect(record.tenants.map((t) => t.tenantId)).toEqual([data.acme.tenantId]);
    expect(statSync(join(f.dataDir, ERASED_FILE)).mode & 0o777).toBe(0o600);
  });

  it("nor on a new machine, from the backup directory carried over: a later manual backup's embedded record erases it again, and its admin cannot sign in", async () => {
    const later = cli(["backup", "create", "--out", join(backups, "full-after-erasure.vbak")]);
    expect(later.status, later.stderr).toBe(0);
    // Only the two backup files travel (no erased-tenants.json): the newer one's header is the record.
    const [oldCopy] = carryBackups(
      [fullBackup, join(backups, "full-after-erasure.vbak")],
      join(scratch.path, "carried"),
    );
    const machine = restoreOnNewMachine(f, oldCopy ?? "", scratch.path);
    expect(machine.report.erasedAgain).toEqual([data.acme.tenantId]);
    expect(machine.report.erasureSources).toEqual([join(scratch.path, "carried", "full-after-erasure.vbak")]);
    expect(machine.report.warnings).toEqual([]);
    expectErased(machine.dataDir);
    expect(await loginStatusOn(machine, scratch.path, data.acme.slug, data.acme.admin.email)).toBe(401);
    expect(await loginStatusOn(machine, scratch.path, data.beta.slug, data.beta.admin.email)).toBe(200);
  });

  function expectErased(dataDir: string): void {
    const db = new BetterSqlite3(join(dataDir, "vecto.db"), { readonly: true });
    const keys = new BetterSqlite3(join(dataDir, "keys.db"), { readonly: true });
    try {
      const tenants = (db.prepare("SELECT id FROM tenants").all() as { id: string }[]).map((r) => r.id);
      expect(tenants).not.toContain(data.acme.tenantId);
      expect(tenants).toContain(data.beta.tenantId);
      expect(db.prepare("SELECT count(*) AS n FROM nodes WHERE tenant_id = ?").get(data.acme.tenantId)).toEqual({
        n: 0,
      });
      expect(keys.prepare("SELECT count(*) AS n FROM tenant_keys WHERE tenant_id = ?").get(data.acme.tenantId)).toEqual(
        { n: 0 },
      );
      expect(
        keys.prepare("SELECT count(*) AS n FROM tenant_keys WHERE tenant_id = ?").get(data.beta.tenantId),
      ).not.toEqual({ n: 0 });
      const again = db
        .prepare(
          "SELECT payload FROM audit_events WHERE tenant_id = '_platform' AND event = 'tenant.erased' AND payload LIKE '%erasedAgainAfterRestoreOf%'",
        )
        .all();
      expect(again).toHaveLength(1);
    } finally {
      db.close();
      keys.close();
    }
  }
});
