/** Helpers shared by the backup integration tests: async CLI runs, file-tree hashes, every row of every table. */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { expect } from "vitest";
import {
  CLI,
  cleanEnv,
  freePort,
  httpsRequest,
  runCli,
  startServe,
  waitForExit,
  type CliResult,
} from "../../helpers.js";
import { STRONG_PASSWORD, type Fixture, type TenantAccount } from "../../identity-fixture.js";

/** Runs the built CLI without blocking the event loop (the in-process app keeps serving meanwhile). */
export function runCliAsync(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: cleanEnv(options.env) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (status) => resolve({ status, stdout, stderr }));
  });
}

/** The last non-empty stderr line that is not a JSON log line: what an operator reads. */
export function failureLine(result: CliResult): string {
  return (
    result.stderr
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("{"))
      .at(-1) ?? ""
  );
}

/** Every regular file under `dir` with its SHA-256 and mode: equal maps mean nothing changed. */
export function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) {
        out[`${relative(dir, full)}/`] = (statSync(full).mode & 0o777).toString(8);
        walk(full);
      } else {
        out[relative(dir, full)] =
          `${createHash("sha256").update(readFileSync(full)).digest("hex")} ${(statSync(full).mode & 0o777).toString(8)}`;
      }
    }
  };
  walk(dir);
  return out;
}

/** A private copy of the fixture's (dev) master key, outside any data dir, for restoring elsewhere. */
export function copyMasterKey(f: Fixture, to: string): string {
  copyFileSync(join(f.dataDir, "master.key"), to);
  chmodSync(to, 0o600);
  return to;
}

function canonicalRow(row: Record<string, unknown>): string {
  return JSON.stringify(Object.entries(row).map(([k, v]) => [k, Buffer.isBuffer(v) ? `hex:${v.toString("hex")}` : v]));
}

/** Every row of every table of a SQLite file, each table's rows sorted: compare two files' content. */
export interface NewMachine {
  readonly dataDir: string;
  /** The environment that runs `vecto` there (data dir, the copied master key). */
  readonly env: Record<string, string>;
  readonly report: {
    erasedAgain: string[];
    contentErasedAgain: { kind: string; id: string }[];
    erasureSources: string[];
    warnings: string[];
  };
}

/**
 * Restores a full backup on a "new machine": an empty data dir `scratch/<name>`, the fixture's
 * master key copied, nothing else; the backup is restored from where it lies (copy the backup
 * directory there first to model carrying it over). `extra` adds restore options.
 */
export function restoreOnNewMachine(
  f: Fixture,
  backup: string,
  scratch: string,
  name = "new-machine",
  extra: string[] = [],
): NewMachine {
  const fresh = join(scratch, name);
  const key = existsSync(join(scratch, "master.key"))
    ? join(scratch, "master.key")
    : copyMasterKey(f, join(scratch, "master.key"));
  const env = { VECTO_DATA_DIR: fresh, VECTO_MASTER_KEY_FILE: key, VECTO_LOG_LEVEL: "warn" };
  const restored = runCli(["backup", "restore", backup, "--yes", "--json", ...extra], { cwd: scratch, env });
  expect(restored.status, restored.stderr).toBe(0);
  return { dataDir: fresh, env, report: JSON.parse(restored.stdout) as NewMachine["report"] };
}

/** Copies the named backup files (and nothing else) into a new directory `to`: a backup directory carried to another machine. */
export function carryBackups(files: readonly string[], to: string): string[] {
  mkdirSync(to, { recursive: true, mode: 0o700 });
  return files.map((file) => {
    const copy = join(to, basename(file));
    copyFileSync(file, copy);
    return copy;
  });
}

/** Serves a restored data dir and tries a tenant admin's login there: the HTTP status. */
export async function loginStatusOn(machine: NewMachine, cwd: string, tenant: string, email: string): Promise<number> {
  const port = await freePort();
  const server = await startServe(
    cwd,
    { ...machine.env, VECTO_LISTEN: `127.0.0.1:${port}`, VECTO_LOG_LEVEL: "info", VECTO_BACKUP_SCHEDULE: "off" },
    ["--no-setup-token"],
  );
  try {
    const res = await httpsCaller(port).call("POST", "/api/auth/login", {
      body: { tenant, email, password: STRONG_PASSWORD },
    });
    return res.status;
  } finally {
    server.child.kill("SIGTERM");
    await waitForExit(server.child);
  }
}

export function allRows(
  file: string,
  skip: (table: string, row: Record<string, unknown>) => boolean = () => false,
): Record<string, string[]> {
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  const db = new BetterSqlite3(file, { readonly: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all() as { name: string }[];
    const out: Record<string, string[]> = {};
    for (const { name } of tables) {
      const rows = db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[];
      out[name] = rows
        .filter((r) => !skip(name, r))
        .map(canonicalRow)
        .sort();
    }
    return out;
  } finally {
    db.close();
  }
}

export const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

export interface Populated {
  readonly acme: TenantAccount;
  readonly beta: TenantAccount;
  readonly projectId: string;
}

/** Two tenants with users, projects, nodes and an edge, made through the API. */
export async function populate(f: Fixture, prefix: string): Promise<Populated> {
  const acme = await f.createTenant(`${prefix}-acme`);
  const beta = await f.createTenant(`${prefix}-beta`);
  await f.createUser(acme.admin, { role: "member" }, acme.slug);
  const post = (token: string, path: string, body: unknown): Promise<Response> => f.call("POST", path, { token, body });
  const admin = acme.admin.tokens.accessToken;
  const projectId = (await json<{ project: { id: string } }>(await post(admin, "/api/projects", { name: "Backed up" })))
    .project.id;
  const idea = (
    await json<{ node: { id: string } }>(
      await post(admin, `/api/projects/${projectId}/nodes`, { type: "idea", title: "Keep encrypted backups" }),
    )
  ).node.id;
  const decision = (
    await json<{ node: { id: string } }>(
      await post(admin, `/api/projects/${projectId}/nodes`, {
        type: "decision",
        title: "Chunked AES-GCM",
        body: "Authenticated chunks, final flag.",
        status: "accepted",
      }),
    )
  ).node.id;
  const edge = await post(admin, `/api/projects/${projectId}/edges`, {
    type: "originates_from",
    from: decision,
    to: idea,
  });
  if (edge.status !== 201) throw new Error(`edge: ${edge.status}`);
  const betaProject = (
    await json<{ project: { id: string } }>(
      await post(beta.admin.tokens.accessToken, "/api/projects", { name: "Beta project" }),
    )
  ).project.id;
  await post(beta.admin.tokens.accessToken, `/api/projects/${betaProject}/nodes`, { type: "task", title: "Beta task" });
  return { acme, beta, projectId };
}

/** A tenant's JSON export without its time stamp: the API-visible objects. */
export async function exportOf(
  f: Pick<Fixture, "call">,
  tenant: TenantAccount,
  token = tenant.admin.tokens.accessToken,
): Promise<Record<string, unknown>> {
  const res = await f.call("GET", `/api/tenants/${tenant.tenantId}/export`, { token });
  if (res.status !== 200) throw new Error(`export: ${res.status} ${await res.text()}`);
  const doc = await json<Record<string, unknown>>(res);
  delete doc.exportedAt;
  return doc;
}

/** A `call` over HTTPS to a served appliance, with the fixture's signature. */
export function httpsCaller(port: number): Pick<Fixture, "call"> {
  return {
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
      if (options.body !== undefined) headers["Content-Type"] = "application/json";
      const res = await httpsRequest(port, path, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
      return new Response(res.status === 204 ? null : res.body, {
        status: res.status,
        headers: { "content-type": String(res.headers["content-type"] ?? "") },
      });
    },
  };
}
