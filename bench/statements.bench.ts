/**
 * What a node create and a node get cost below HTTP, against a floor in the same run (issue 15,
 * point 4: statements prepared once per connection; the created or updated node answered from
 * what was written instead of re-read and decrypted).
 *
 * The appliance runs in this process as `vecto serve` wires it (temp data dir, the shipped
 * pragmas: WAL, synchronous=FULL, secure_delete; real CryptoService and audit sealer). The floor
 * is a second connection to the same file with the same pragmas and statements prepared once by
 * hand: what the same rows cost with nothing of the product around them.
 *
 * - get, data layer: `db.forTenant(scope).nodes.get(id)` (a fresh tenant handle per call, as a
 *   request has) vs the floor's prepared SELECT;
 * - get, domain: `getNode` (project access check + decrypting title and body) vs the same floor;
 * - create, data layer: `tenantDb.write(tx.nodes.insert + tx.audit)` vs the floor's node and
 *   term INSERTs in one IMMEDIATE transaction (both fsync their commit);
 * - create, domain: `createNode` (access check, encryption, blind-index terms, the write with its
 *   event, the answer) vs the same floor.
 *
 * Sides alternate in blocks so that the load of a shared machine falls on both alike; each
 * reports wall time per call and process CPU per call. The ratios (ours / floor) are what to
 * compare between runs, never the absolute figures.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type BetterSqlite3 from "better-sqlite3";
import type { Principal } from "../src/auth/principal.js";
import { openSqlite } from "../src/db/sqlite.js";
import type { TenantScope } from "../src/db/tenant-scope.js";
import { createNode, getNode, titleWords } from "../src/graph/nodes.js";
import { createProject } from "../src/graph/projects.js";
import { type Services } from "../src/services.js";
import { openBenchAppliance } from "./appliance.js";
import { round, stats, type Stats } from "./stats.js";

const CALLS = 10_000;
const WARMUP = 500;
const BLOCK = 250;

const NODE_TITLE = "Decide the retention policy for exported audit logs";
const NODE_BODY =
  "Context: auditors ask for JSON Lines and CSV exports. Options considered: daily files, on-demand streaming. " +
  "Consequences: exports are streamed page by page; memory stays constant for a log of any size.";

const COLUMNS =
  "id, tenant_id, project_id, type, status, review_kind, verdict, title_enc, body_enc, author_type, " +
  "author_id, version, created_at, updated_at, archived_at";

interface Appliance {
  readonly services: Services;
  readonly principal: Principal;
  readonly scope: TenantScope;
  readonly projectId: string;
  readonly databaseFile: string;
}

async function setUp(dir: string): Promise<Appliance> {
  const { config, services, admin: principal } = await openBenchAppliance(dir);
  const scope = principal.tenantScope as TenantScope;
  const project = await createProject(services.graph, services.db.forTenant(scope), principal, { name: "Bench" });
  return { services, principal, scope, projectId: project.id, databaseFile: config.databaseFile };
}

interface Side {
  readonly wall: Stats;
  readonly cpuUsPerCall: number;
}

/** WARMUP untimed calls of each side, then CALLS timed ones, alternating blocks of BLOCK. */
async function interleaved(ours: () => unknown, floor: () => unknown): Promise<{ ours: Side; floor: Side }> {
  for (let i = 0; i < WARMUP; i++) {
    await ours();
    await floor();
  }
  const run = async (fn: () => unknown, samples: number[]): Promise<number> => {
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < BLOCK && samples.length < CALLS; i++) {
      const t0 = performance.now();
      await fn();
      samples.push(performance.now() - t0);
    }
    const cpu = process.cpuUsage(cpu0);
    return cpu.user + cpu.system;
  };
  const a: number[] = [];
  const b: number[] = [];
  let cpuA = 0;
  let cpuB = 0;
  while (a.length < CALLS || b.length < CALLS) {
    cpuA += await run(ours, a);
    cpuB += await run(floor, b);
  }
  return {
    ours: { wall: stats(a), cpuUsPerCall: round(cpuA / CALLS, 1) },
    floor: { wall: stats(b), cpuUsPerCall: round(cpuB / CALLS, 1) },
  };
}

function row(label: string, r: { ours: Side; floor: Side }): Record<string, unknown> {
  return {
    label,
    "ours µs (mean)": round(r.ours.wall.meanMs * 1000, 1),
    "floor µs (mean)": round(r.floor.wall.meanMs * 1000, 1),
    "ops ratio ours/floor": round(r.ours.wall.opsPerSec / r.floor.wall.opsPerSec),
    "ours CPU µs": r.ours.cpuUsPerCall,
    "floor CPU µs": r.floor.cpuUsPerCall,
    "CPU ratio floor/ours": round(r.floor.cpuUsPerCall / r.ours.cpuUsPerCall),
  };
}

/** The floor: the same file, the shipped pragmas, statements prepared once. */
function floorOf(ap: Appliance, handle: BetterSqlite3.Database, titleEnc: Uint8Array, terms: readonly Uint8Array[]) {
  const tenantId = ap.scope.tenantId;
  const select = handle.prepare(`SELECT ${COLUMNS} FROM nodes WHERE tenant_id = ? AND id = ?`);
  const insert = handle.prepare(`INSERT INTO nodes (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertTerm = handle.prepare("INSERT OR IGNORE INTO node_terms (tenant_id, term, node_id) VALUES (?, ?, ?)");
  const create = handle.transaction((id: string, now: string) => {
    const blob = Buffer.from(titleEnc);
    insert.run(
      id,
      tenantId,
      ap.projectId,
      "decision",
      "proposed",
      null,
      null,
      blob,
      blob,
      "human",
      "x",
      1,
      now,
      now,
      null,
    );
    for (const term of terms) insertTerm.run(tenantId, Buffer.from(term), id);
  });
  return {
    get: (id: string): void => {
      if (select.get(tenantId, id) === undefined) throw new Error("floor: node missing");
    },
    create: (): void => {
      create.immediate(randomUUID(), new Date().toISOString());
    },
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const dir = await mkdtemp(join(tmpdir(), "vecto-bench-statements-"));
  const ap = await setUp(dir);
  const handle = openSqlite(ap.databaseFile, false);
  try {
    const { services, principal, scope, projectId } = ap;
    const tenantId = scope.tenantId;
    const terms = await Promise.all(
      titleWords(NODE_TITLE).map((w) => services.crypto.blindIndex(tenantId, "nodes.title", w)),
    );
    const input = { type: "decision" as const, title: NODE_TITLE, body: NODE_BODY };
    const sample = await createNode(services.graph, services.db.forTenant(scope), principal, projectId, input);
    const stored = services.db.forTenant(scope).nodes.get(sample.id);
    if (!stored) throw new Error("sample node missing");
    const floor = floorOf(ap, handle, stored.titleEnc, terms);

    const getData = await interleaved(
      () => {
        if (services.db.forTenant(scope).nodes.get(sample.id) === undefined) throw new Error("node missing");
      },
      () => floor.get(sample.id),
    );
    const getDomain = await interleaved(
      () => getNode(services.graph, services.db.forTenant(scope), principal, sample.id),
      () => floor.get(sample.id),
    );
    const createData = await interleaved(
      () =>
        services.db.forTenant(scope).write((tx) => {
          const id = randomUUID();
          tx.nodes.insert(
            {
              id,
              projectId,
              type: "decision",
              status: "proposed",
              reviewKind: null,
              verdict: null,
              titleEnc: stored.titleEnc,
              bodyEnc: stored.bodyEnc,
              authorType: principal.actorKind,
              authorId: principal.userId,
              version: 1,
              createdAt: tx.now,
              updatedAt: tx.now,
              archivedAt: null,
            },
            terms,
          );
          tx.audit({
            event: "node.created",
            sensitivity: "normal",
            severity: "info",
            tenantId,
            actor: { type: principal.actorKind, id: principal.userId },
            payload: { nodeId: id, projectId, type: "decision" },
          });
        }),
      () => floor.create(),
    );
    const createDomain = await interleaved(
      () => createNode(services.graph, services.db.forTenant(scope), principal, projectId, input),
      () => floor.create(),
    );
    const summary = [
      row("node get, data layer (forTenant + nodes.get)", getData),
      row("node get, domain (getNode: access + decrypt)", getDomain),
      row("node create, data layer (write: insert + audit)", createData),
      row("node create, domain (createNode)", createDomain),
    ];
    return { calls: CALLS, block: BLOCK, summary, detail: { getData, getDomain, createData, createDomain } };
  } finally {
    handle.close();
    ap.services.close();
    await rm(dir, { recursive: true, force: true });
  }
}
