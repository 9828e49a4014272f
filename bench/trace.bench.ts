/**
 * What the chain-of-custody trace (`GET /api/nodes/:nid/trace`) costs on a 100,000-node project.
 *
 * The appliance runs in this process as `vecto serve` wires it (temp data dir, real SQLite file,
 * real master key, real CryptoService); the tenant, its admin and the project are made with the
 * domain functions, the Principal comes from the real authenticator. The project is then filled
 * in bulk through TenantDb.write (tx.insertNode / tx.insertEdge) with titles and bodies really
 * encrypted exactly as src/graph/nodes.ts does; that is setup, timed separately.
 *
 * Measured, after warm-up, for each case:
 *   - `traceUpstream` (the domain function behind the route: access check, recursive query,
 *     loading the nodes, decrypting their titles, collecting the custody edges among them);
 *   - the recursive query alone (`tenantDb.trace`), and the two other reads of the trace
 *     (`tenantDb.nodes`, `tenantDb.edgesTouching`) so the time can be attributed;
 *   - `getNode` of the same root in the same run, as the baseline of a single-node GET.
 * HTTP, authentication and JSON serialisation are not included (they are the same for every GET).
 * `EXPLAIN QUERY PLAN` of the three statements is recorded through a separate read-only handle.
 *
 * Three passes over the same cases: bench-only candidate rewrites of the three statements (query
 * only, read-only handle; they also give each case's size), the appliance as shipped (its database
 * has no planner statistics), and the appliance as shipped again after ANALYZE.
 */
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { randomUUID } from "node:crypto";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import type { Principal } from "../src/auth/principal.js";
import type { EdgeRecord } from "../src/db/repositories/edges.js";
import type { NewNode } from "../src/db/repositories/nodes.js";
import type { TenantDb } from "../src/db/tenant-db.js";
import { getNode } from "../src/graph/nodes.js";
import { createProject } from "../src/graph/projects.js";
import { DEFAULT_TRACE_DEPTH, MAX_TRACE_DEPTH, MAX_TRACE_NODES, traceUpstream } from "../src/graph/trace.js";
import { UPSTREAM_VIA_FROM, UPSTREAM_VIA_TO, type EdgeType, type NodeType } from "../src/vocabulary/graph.js";
import { type Services } from "../src/services.js";
import { openBenchAppliance } from "./appliance.js";
import { percentile, round } from "./stats.js";
import { seededRandom } from "../test/seeded-random.js";

const SEED = 20_240_601;

/** The project: 100,000 nodes. */
const COUNTS = { idea: 20_000, decision: 30_000, review: 10_000, task: 35_000, release: 5_000 } as const;
/** decisions[0..LONG_CHAIN) form one supersedes chain, newest last. */
const LONG_CHAIN = 200;
/** Then SHORT_CHAINS chains of SHORT_CHAIN_LENGTH decisions each. */
const SHORT_CHAINS = 600;
const SHORT_CHAIN_LENGTH = 5;
/** releases[0] ships this many tasks (the wide case); the others share the rest (~6.8 each). */
const WIDE_RELEASE_TASKS = 1_000;
const SECOND_IDEA_SHARE = 0.2;
const REVIEWED_DECISION_SHARE = 1 / 3;
const BLOCKS_EDGES = 40_000;
const RELATES_EDGES = 85_000;
const NODE_BATCH = 5_000;
const EDGE_BATCH = 25_000;

const WARMUP = 10;
const RUNS = 50;
const MIN_RUNS = 3;
const MIN_SLOW_RUNS = 1;
const SLOW_CALL_MS = 500;
/** Per figure; fast statements finish their RUNS long before. */
const SAMPLE_BUDGET_MS = 1_000;
/** A case whose recursive query is predicted (from the cases before it) to take longer than this is not run as shipped. */
const SLOW_QUERY_MS = 4_000;

const CUSTODY = new Set<EdgeType>([...UPSTREAM_VIA_TO, ...UPSTREAM_VIA_FROM]);

const benchStarted = performance.now();
/** Progress on stderr, so a slow step shows where it is. */
function progress(message: string): void {
  console.error(`[trace +${((performance.now() - benchStarted) / 1000).toFixed(1)} s] ${message}`);
}

interface Stats {
  readonly runs: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentiles, in milliseconds. */
function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number): number => percentile(sorted, p);
  const mean = sorted.reduce((s, x) => s + x, 0) / sorted.length;
  return {
    runs: sorted.length,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    max: round(sorted.at(-1) ?? NaN),
    mean: round(mean),
  };
}

/**
 * WARMUP untimed then RUNS timed calls, within a time budget: a statement with a bad plan would
 * otherwise keep the bench busy for minutes. At least MIN_RUNS timed calls (MIN_SLOW_RUNS for a
 * call slower than SLOW_CALL_MS, whose first call is its only warm-up; `runs` says how many were
 * taken). Returns the first call's result too, so no extra call is needed to inspect it.
 */
async function sample<T>(fn: () => T | Promise<T>, budgetMs = SAMPLE_BUDGET_MS): Promise<{ stats: Stats; first: T }> {
  const started = performance.now();
  const first = await fn();
  const firstMs = performance.now() - started;
  for (let i = 1; i < WARMUP && performance.now() - started < budgetMs / 5; i++) await fn();
  const minRuns = firstMs > SLOW_CALL_MS ? MIN_SLOW_RUNS : MIN_RUNS;
  const times: number[] = [];
  const timedFrom = performance.now();
  while (times.length < RUNS && (times.length < minRuns || performance.now() - timedFrom < budgetMs)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return { stats: stats(times), first };
}

interface PlannedNode {
  readonly id: string;
  readonly type: NodeType;
  readonly status: string;
  readonly title: string;
  readonly body: string;
  readonly review: boolean;
  readonly done: boolean;
}

interface PlannedEdge {
  readonly type: EdgeType;
  readonly from: string;
  readonly to: string;
}

const TOPICS = [
  "storage",
  "sync",
  "search",
  "audit",
  "backup",
  "login",
  "export",
  "import",
  "billing",
  "licensing",
  "upgrade",
  "TLS",
  "keys",
  "rate limits",
  "agents",
  "reports",
];

interface Graph {
  readonly nodes: PlannedNode[];
  readonly edges: PlannedEdge[];
  readonly ideas: string[];
  readonly decisions: string[];
  readonly reviews: string[];
  readonly tasks: string[];
  readonly releases: string[];
}

/** The project's shape: custody edges as a team would draw them, plus relates/blocks noise (with cycles). */
function planGraph(): Graph {
  const rand = seededRandom(SEED);
  const pick = (n: number): number => Math.floor(rand() * n);
  const topic = (): string => TOPICS[pick(TOPICS.length)] ?? "misc";
  const nodes: PlannedNode[] = [];
  const make = (type: NodeType, count: number, status: (i: number) => string, title: (i: number) => string): string[] =>
    Array.from({ length: count }, (_, i) => {
      const id = randomUUID();
      const s = status(i);
      nodes.push({
        id,
        type,
        status: s,
        title: title(i),
        body: `Context, consequences and links for ${type} ${i}. Discussed in the weekly review; see the attached notes for the trade-offs that were considered.`,
        review: type === "review",
        done: type === "review" && s === "done",
      });
      return id;
    });
  const chained = LONG_CHAIN + SHORT_CHAINS * SHORT_CHAIN_LENGTH;
  const ideas = make(
    "idea",
    COUNTS.idea,
    (i) => (i % 3 === 0 ? "adopted" : "open"),
    (i) => `Idea ${i}: make ${topic()} faster for large projects`,
  );
  const decisions = make(
    "decision",
    COUNTS.decision,
    (i) =>
      i < LONG_CHAIN - 1 ||
      (i >= LONG_CHAIN && i < chained && (i - LONG_CHAIN) % SHORT_CHAIN_LENGTH !== SHORT_CHAIN_LENGTH - 1)
        ? "superseded"
        : "accepted",
    (i) => `ADR-${i}: use ${topic()} strategy ${i % 7} for ${topic()}`,
  );
  const reviews = make(
    "review",
    COUNTS.review,
    (i) => (i % 2 === 0 ? "done" : "open"),
    (i) => `Review ${i} of ${topic()}`,
  );
  const tasks = make(
    "task",
    COUNTS.task,
    (i) => (i % 5 === 0 ? "doing" : "done"),
    (i) => `Task ${i}: implement ${topic()} change`,
  );
  const releases = make(
    "release",
    COUNTS.release,
    (i) => (i % 10 === 0 ? "planned" : "released"),
    (i) => `Release 2026.${Math.floor(i / 100)}.${i % 100}`,
  );
  const id = (list: readonly string[], i: number): string => {
    const v = list[i];
    if (v === undefined) throw new Error(`index ${i} out of range`);
    return v;
  };

  const edges: PlannedEdge[] = [];
  const seen = new Set<string>();
  const add = (type: EdgeType, from: string, to: string): void => {
    const key = `${type}|${from}|${to}`;
    if (from === to || seen.has(key)) return;
    seen.add(key);
    edges.push({ type, from, to });
  };

  // Supersedes: one long chain, then short ones; each newer decision supersedes the previous one.
  for (let i = 1; i < LONG_CHAIN; i++) add("supersedes", id(decisions, i), id(decisions, i - 1));
  for (let c = 0; c < SHORT_CHAINS; c++) {
    const base = LONG_CHAIN + c * SHORT_CHAIN_LENGTH;
    for (let k = 1; k < SHORT_CHAIN_LENGTH; k++)
      add("supersedes", id(decisions, base + k), id(decisions, base + k - 1));
  }
  // Every decision originates from an idea, some from two; a third are reviewed.
  for (let i = 0; i < COUNTS.decision; i++) {
    add("originates_from", id(decisions, i), id(ideas, pick(COUNTS.idea)));
    if (rand() < SECOND_IDEA_SHARE) add("originates_from", id(decisions, i), id(ideas, pick(COUNTS.idea)));
    if (rand() < REVIEWED_DECISION_SHARE)
      add("reviewed_in", id(decisions, i), id(reviews, COUNTS.release + pick(COUNTS.review - COUNTS.release)));
  }
  // Every release has its own review (reviews[0..releases)).
  for (let r = 0; r < COUNTS.release; r++) add("reviewed_in", id(releases, r), id(reviews, r));
  // Tasks implement a decision (outside the long chain) and ship in a release. releases[0] is the
  // wide one; releases[1]'s first task implements the newest decision of the long chain.
  for (let t = 0; t < COUNTS.task; t++) {
    const decision = t === WIDE_RELEASE_TASKS ? LONG_CHAIN - 1 : LONG_CHAIN + pick(COUNTS.decision - LONG_CHAIN);
    add("implements", id(tasks, t), id(decisions, decision));
    const release = t < WIDE_RELEASE_TASKS ? 0 : 1 + ((t - WIDE_RELEASE_TASKS) % (COUNTS.release - 1));
    add("ships_in", id(tasks, t), id(releases, release));
  }
  // Noise: tasks blocking later tasks (acyclic, as the rules want), and relates between any two
  // nodes, both ways at times (cycles the trace must not follow).
  while (edges.filter((e) => e.type === "blocks").length < BLOCKS_EDGES) {
    for (let k = 0; k < 1_000; k++) {
      const a = pick(COUNTS.task - 1);
      const b = a + 1 + pick(Math.min(500, COUNTS.task - a - 1));
      add("blocks", id(tasks, a), id(tasks, b));
    }
  }
  const all = nodes.map((n) => n.id);
  let relates = 0;
  while (relates < RELATES_EDGES) {
    const before = edges.length;
    const a = id(all, pick(all.length));
    const b = id(all, pick(all.length));
    add("relates", a, b);
    if (rand() < 0.1) add("relates", b, a);
    relates += edges.length - before;
  }
  return { nodes, edges, ideas, decisions, reviews, tasks, releases };
}

async function populate(
  services: Services,
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  graph: Graph,
): Promise<{ encryptMs: number; nodeInsertMs: number; edgeInsertMs: number }> {
  const tenantId = tenantDb.tenantId;
  let encryptMs = 0;
  let nodeInsertMs = 0;
  let edgeInsertMs = 0;
  // Inserted in key order: the same rows, built in about half the time (random UUID keys
  // otherwise land all over every index). The database is therefore compact, as after VACUUM.
  const nodes = [...graph.nodes].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  const edges = [...graph.edges].sort((x, y) =>
    x.type < y.type ? -1 : x.type > y.type ? 1 : x.from < y.from ? -1 : x.from > y.from ? 1 : 0,
  );
  for (let start = 0; start < nodes.length; start += NODE_BATCH) {
    const batch = nodes.slice(start, start + NODE_BATCH);
    const t0 = performance.now();
    const sealed = await Promise.all(
      batch.map(async (n) => ({
        n,
        titleEnc: await services.crypto.encryptField(
          tenantId,
          { table: "nodes", column: "title", rowId: n.id },
          n.title,
        ),
        bodyEnc: await services.crypto.encryptField(tenantId, { table: "nodes", column: "body", rowId: n.id }, n.body),
      })),
    );
    const t1 = performance.now();
    await tenantDb.write((tx) => {
      for (const { n, titleEnc, bodyEnc } of sealed) {
        const record: NewNode = {
          id: n.id,
          projectId,
          type: n.type,
          status: n.status,
          reviewKind: n.review ? "design" : null,
          verdict: n.done ? "approved" : null,
          titleEnc,
          bodyEnc,
          authorType: principal.actorKind,
          authorId: principal.userId,
          version: 1,
          createdAt: tx.now,
          updatedAt: tx.now,
          archivedAt: null,
        };
        tx.nodes.insert(record, []);
        // Each row with its event, as the domain records it (the write path refuses a change without one).
        tx.audit({
          event: "node.created",
          sensitivity: "normal",
          severity: "info",
          tenantId,
          actor: { type: principal.actorKind, id: principal.userId },
          payload: { nodeId: n.id, projectId, type: n.type },
        });
      }
    });
    encryptMs += t1 - t0;
    nodeInsertMs += performance.now() - t1;
  }
  for (let start = 0; start < edges.length; start += EDGE_BATCH) {
    const batch = edges.slice(start, start + EDGE_BATCH);
    const t0 = performance.now();
    await tenantDb.write((tx) => {
      for (const e of batch) {
        const record: Omit<EdgeRecord, "tenantId" | "draft"> = {
          id: randomUUID(),
          projectId,
          type: e.type,
          fromId: e.from,
          toId: e.to,
          createdBy: principal.userId,
          createdByType: principal.actorKind,
          createdAt: tx.now,
        };
        tx.edges.insert(record);
        tx.audit({
          event: "edge.created",
          sensitivity: "normal",
          severity: "info",
          tenantId,
          actor: { type: principal.actorKind, id: principal.userId },
          payload: { edgeId: record.id, projectId, type: e.type, from: e.from, to: e.to },
        });
      }
    });
    edgeInsertMs += performance.now() - t0;
  }
  return { encryptMs, nodeInsertMs, edgeInsertMs };
}

/** The text of the backtick literal in a src/db file that contains `marker`, with its ${COLUMNS} filled in. */
function sqlFromSource(file: string, marker: string): string {
  const text = readFileSync(resolve(process.cwd(), file), "utf8");
  const columns = /const COLUMNS = "([^"]+)"/.exec(text)?.[1] ?? "*";
  const literal = [...text.matchAll(/`([^`]*)`/g)].map((m) => m[1] ?? "").find((s) => s.includes(marker));
  if (literal === undefined) throw new Error(`no SQL containing ${JSON.stringify(marker)} in ${file}`);
  return literal.replaceAll("${COLUMNS}", columns);
}

interface PlanRow {
  readonly id: number;
  readonly parent: number;
  readonly detail: string;
}

/** The three statements a trace runs, with how to bind them. */
interface Statements {
  readonly trace: string;
  readonly touching: string;
  readonly nodes: string;
}

/** As src/db has them today (read from the source, so the plan is of the shipped text). */
function shippedStatements(): Statements {
  return {
    trace: sqlFromSource("src/db/repositories/edges.ts", "WITH RECURSIVE up("),
    touching: sqlFromSource("src/db/repositories/edges.ts", "AND to_id IN (SELECT value FROM json_each(?))"),
    nodes: sqlFromSource("src/db/repositories/nodes.ts", "AND id IN (SELECT value FROM json_each(?))"),
  };
}

const EDGE_COLUMNS = "id, tenant_id, project_id, type, from_id, to_id, created_by, created_at";

/**
 * Bench-only rewrites that pin the plans to the node-id indexes whatever the statistics say,
 * measured next to the shipped text as a suggestion for src/db (not used by the appliance).
 */
function candidateStatements(shipped: Statements): Statements | undefined {
  const trace = shipped.trace
    .replace(
      "FROM up JOIN edges e ON e.tenant_id = @tenantId AND e.from_id",
      "FROM up CROSS JOIN edges e INDEXED BY edges_from ON e.tenant_id = @tenantId AND e.from_id",
    )
    .replace(
      "FROM up JOIN edges e ON e.tenant_id = @tenantId AND e.to_id",
      "FROM up CROSS JOIN edges e INDEXED BY edges_to ON e.tenant_id = @tenantId AND e.to_id",
    );
  const nodes = shipped.nodes.replace("WHERE tenant_id = ? AND id IN", "WHERE +tenant_id = ? AND id IN");
  if ((trace.match(/INDEXED BY/g) ?? []).length !== 2 || nodes === shipped.nodes) return undefined;
  const touching =
    `SELECT ${EDGE_COLUMNS} FROM edges WHERE tenant_id = ? AND from_id IN (SELECT value FROM json_each(?)) ` +
    `UNION SELECT ${EDGE_COLUMNS} FROM edges WHERE tenant_id = ? AND to_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, id`;
  return { trace, touching, nodes };
}

function traceParams(tenantId: string, root: string, depth: number): Record<string, string | number> {
  return {
    tenantId,
    start: root,
    viaTo: JSON.stringify(UPSTREAM_VIA_TO),
    viaFrom: JSON.stringify(UPSTREAM_VIA_FROM),
    maxDepth: depth,
    maxNodes: MAX_TRACE_NODES + 1,
    includeArchived: 0,
  };
}

/** Binds `touching`: the shipped text takes (tenant, ids, ids), the candidate (tenant, ids, tenant, ids). */
function touchingParams(sql: string, tenantId: string, ids: string): unknown[] {
  return (sql.match(/tenant_id = \?/g) ?? []).length === 2 ? [tenantId, ids, tenantId, ids] : [tenantId, ids, ids];
}

function explain(handle: BetterSqlite3.Database, sql: string, params: unknown): string[] {
  const statement = handle.prepare(`EXPLAIN QUERY PLAN ${sql}`);
  const rows = (Array.isArray(params) ? statement.all(...(params as unknown[])) : statement.all(params)) as PlanRow[];
  const depth = new Map<number, number>();
  return rows.map((r) => {
    const d = (depth.get(r.parent) ?? -1) + 1;
    depth.set(r.id, d);
    return `${"  ".repeat(d)}${r.detail}`;
  });
}

/** Every edges lookup keyed by a node id (from_id/to_id), every nodes lookup by id; no table scan. */
function boundByNodeId(plan: readonly string[]): boolean {
  return plan.every((line) => {
    const l = line.trim();
    if (/^SCAN (e|edges|nodes)\b/.test(l)) return false;
    if (/^SEARCH (e|edges)\b/.test(l)) return /from_id=\?|to_id=\?/.test(l);
    if (/^SEARCH nodes\b/.test(l)) return /\bid=\?/.test(l);
    return true;
  });
}

function queryPlans(
  handle: BetterSqlite3.Database,
  statements: Statements,
  tenantId: string,
  root: string,
  nodeIds: readonly string[],
): Record<string, unknown> {
  // A real read first: EXPLAIN alone does not notice another connection's schema change (ANALYZE).
  const sqliteStat1 =
    (handle.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'sqlite_stat1'").get() as { n: number }).n >
    0;
  const ids = JSON.stringify(nodeIds);
  const trace = explain(handle, statements.trace, traceParams(tenantId, root, DEFAULT_TRACE_DEPTH));
  const touching = explain(handle, statements.touching, touchingParams(statements.touching, tenantId, ids));
  const nodes = explain(handle, statements.nodes, [tenantId, ids]);
  return {
    sqliteStat1,
    traceUsesEdgesFromAndTo: /edges_from/.test(trace.join("\n")) && /edges_to/.test(trace.join("\n")),
    traceKeyedByNodeId: boundByNodeId(trace),
    edgesTouchingKeyedByNodeId: boundByNodeId(touching),
    nodesByIdKeyedById: boundByNodeId(nodes),
    trace,
    edgesTouching: touching,
    nodesById: nodes,
  };
}

interface Case {
  readonly name: string;
  readonly root: string;
  readonly depth: number;
}

interface CaseResult {
  readonly case: string;
  readonly depth: number;
  readonly nodes: number;
  readonly edges: number | null;
  readonly maxDepthReached: number | null;
  readonly truncated: boolean;
  readonly nodesByType: Record<string, number> | null;
  readonly edgesTouchingRows: number | null;
  /** Same nodes and depths as the candidate statement returned (a cross-check of both). */
  readonly sameStepsAsCandidate: boolean | null;
  readonly skipped?: string;
  readonly ms?: {
    readonly traceUpstream: Stats;
    readonly queryOnly: Stats;
    readonly loadNodes: Stats;
    readonly edgesTouching: Stats;
    readonly getNode: Stats;
  };
}

interface Bench {
  readonly services: Services;
  readonly tenantDb: TenantDb;
  readonly principal: Principal;
}

type Steps = readonly (readonly [string, number])[];

async function measureCase(b: Bench, c: Case, expected: Steps | undefined): Promise<CaseResult> {
  const { services, tenantDb, principal } = b;
  const traced = await sample(() => traceUpstream(services.graph, tenantDb, principal, c.root, c.depth));
  const queried = await sample(() =>
    tenantDb.edges.trace(c.root, UPSTREAM_VIA_TO, UPSTREAM_VIA_FROM, c.depth, MAX_TRACE_NODES + 1),
  );
  const trace = traced.first;
  const steps = queried.first;
  const ids = steps.slice(0, MAX_TRACE_NODES).map((s) => s.nodeId);
  if (trace.edges.some((e) => !CUSTODY.has(e.type))) throw new Error(`${c.name}: a non-custody edge in the trace`);
  if (trace.nodes.length !== ids.length)
    throw new Error(`${c.name}: ${trace.nodes.length} nodes traced, ${ids.length} steps`);
  const loaded = await sample(() => tenantDb.nodes.getMany(ids));
  const touching = await sample(() => tenantDb.edges.touching(ids));
  const single = await sample(() => getNode(services.graph, tenantDb, principal, c.root));
  const ms = {
    traceUpstream: traced.stats,
    queryOnly: queried.stats,
    loadNodes: loaded.stats,
    edgesTouching: touching.stats,
    getNode: single.stats,
  };
  const nodesByType: Record<string, number> = {};
  for (const n of trace.nodes) nodesByType[n.type] = (nodesByType[n.type] ?? 0) + 1;
  progress(
    `  ${trace.nodes.length} nodes, ${trace.edges.length} edges; traceUpstream p50 ${ms.traceUpstream.p50} ms, query ${ms.queryOnly.p50} ms, getNode ${ms.getNode.p50} ms`,
  );
  return {
    case: c.name,
    depth: c.depth,
    nodes: trace.nodes.length,
    edges: trace.edges.length,
    maxDepthReached: Math.max(...trace.nodes.map((n) => n.depth)),
    truncated: trace.truncated,
    nodesByType,
    edgesTouchingRows: touching.first.length,
    sameStepsAsCandidate:
      expected === undefined
        ? null
        : JSON.stringify(steps.map((s) => [s.nodeId, s.depth])) === JSON.stringify(expected),
    ms,
  };
}

interface CandidateResult {
  readonly case: string;
  readonly depth: number;
  readonly nodes: number;
  readonly ms: { readonly trace: Stats; readonly edgesTouching: Stats; readonly nodes: Stats };
}

/** The candidate statements on the read-only handle, query only (no decryption). */
async function measureCandidate(
  handle: BetterSqlite3.Database,
  statements: Statements,
  tenantId: string,
  c: Case,
): Promise<{ result: CandidateResult; steps: Steps }> {
  const params = traceParams(tenantId, c.root, c.depth);
  const query = (): { node_id: string; depth: number }[] =>
    handle.prepare<[Record<string, string | number>], { node_id: string; depth: number }>(statements.trace).all(params);
  const traced = await sample(query);
  const rows = traced.first;
  const ids = JSON.stringify(rows.slice(0, MAX_TRACE_NODES).map((r) => r.node_id));
  const tp = touchingParams(statements.touching, tenantId, ids);
  const result: CandidateResult = {
    case: c.name,
    depth: c.depth,
    nodes: Math.min(rows.length, MAX_TRACE_NODES),
    ms: {
      trace: traced.stats,
      edgesTouching: (await sample(() => handle.prepare(statements.touching).all(...tp))).stats,
      nodes: (await sample(() => handle.prepare(statements.nodes).all(tenantId, ids))).stats,
    },
  };
  progress(
    `  ${result.nodes} nodes; query ${result.ms.trace.p50} ms, touching ${result.ms.edgesTouching.p50} ms, nodes ${result.ms.nodes.p50} ms`,
  );
  return { result, steps: rows.map((r) => [r.node_id, r.depth] as const) };
}

export async function run(): Promise<Record<string, unknown>> {
  const loadAtStart = round(loadavg()[0] ?? 0, 2);
  const dir = await mkdtemp(join(tmpdir(), "vecto-bench-trace-"));
  let services: Services | undefined;
  let readOnly: BetterSqlite3.Database | undefined;
  try {
    const setupStarted = performance.now();
    const opened = await openBenchAppliance(dir);
    services = opened.services;
    const { config, admin: principal } = opened;
    if (!principal.tenantScope) throw new Error("the tenant admin has no tenant scope");
    const tenantDb = services.db.forTenant(principal.tenantScope);
    const project = await createProject(services.graph, tenantDb, principal, { name: "Bench project" });
    const applianceMs = performance.now() - setupStarted;

    const planStarted = performance.now();
    const graph = planGraph();
    const planMs = performance.now() - planStarted;
    progress(`planned ${graph.nodes.length} nodes, ${graph.edges.length} edges`);
    const { encryptMs, nodeInsertMs, edgeInsertMs } = await populate(services, tenantDb, principal, project.id, graph);
    const setupMs = performance.now() - setupStarted;
    progress(`setup done in ${(setupMs / 1000).toFixed(1)} s`);
    const edgesByType: Record<string, number> = {};
    for (const e of graph.edges) edgesByType[e.type] = (edgesByType[e.type] ?? 0) + 1;

    const at = (list: readonly string[], i: number): string => {
      const v = list[i];
      if (v === undefined) throw new Error(`index ${i} out of range`);
      return v;
    };
    const typical = at(graph.releases, 2_345);
    const cases: Case[] = [
      { name: "typical release (7 tasks)", root: typical, depth: DEFAULT_TRACE_DEPTH },
      {
        name: `release on ${LONG_CHAIN}-long supersedes chain`,
        root: at(graph.releases, 1),
        depth: DEFAULT_TRACE_DEPTH,
      },
      { name: "idea (no upstream)", root: at(graph.ideas, 17), depth: DEFAULT_TRACE_DEPTH },
      { name: `release on ${LONG_CHAIN}-long supersedes chain`, root: at(graph.releases, 1), depth: MAX_TRACE_DEPTH },
      { name: `wide release (${WIDE_RELEASE_TASKS} tasks)`, root: at(graph.releases, 0), depth: DEFAULT_TRACE_DEPTH },
    ];
    const b: Bench = { services, tenantDb, principal };

    // The plans, as shipped, before any measurement.
    readOnly = new BetterSqlite3(config.databaseFile, { readonly: true, fileMustExist: true });
    const typicalIds = tenantDb.edges
      .trace(typical, UPSTREAM_VIA_TO, UPSTREAM_VIA_FROM, DEFAULT_TRACE_DEPTH, MAX_TRACE_NODES + 1)
      .map((s) => s.nodeId);
    const shipped = shippedStatements();
    const plansShipped = queryPlans(readOnly, shipped, tenantDb.tenantId, typical, typicalIds);

    // First the candidate statements: fast whatever the statistics, they also give each case's size.
    progress("candidate statements (bench only, read-only handle)");
    const candidate = candidateStatements(shipped);
    const candidates: CandidateResult[] = [];
    const expected = new Map<Case, Steps>();
    if (candidate) {
      for (const c of cases) {
        progress(`case: ${c.name}, depth ${c.depth}`);
        const { result, steps } = await measureCandidate(readOnly, candidate, tenantDb.tenantId, c);
        candidates.push(result);
        expected.set(c, steps);
      }
    }
    const plansCandidate = candidate
      ? queryPlans(readOnly, candidate, tenantDb.tenantId, typical, typicalIds)
      : "the shipped SQL changed; candidate rewrite not applicable";

    progress("as shipped (no sqlite_stat1)");
    const asShipped: CaseResult[] = [];
    let msPerNode: number | undefined;
    for (const c of cases) {
      progress(`case: ${c.name}, depth ${c.depth}`);
      const size = candidates.find((r) => r.case === c.name && r.depth === c.depth)?.nodes;
      const predicted = msPerNode !== undefined && size !== undefined ? msPerNode * size : undefined;
      if (predicted !== undefined && size !== undefined && predicted > SLOW_QUERY_MS) {
        progress(`  predicted ${(predicted / 1000).toFixed(1)} s for the recursive query alone: not run`);
        asShipped.push({
          case: c.name,
          depth: c.depth,
          nodes: size,
          edges: null,
          maxDepthReached: null,
          truncated: size >= MAX_TRACE_NODES,
          nodesByType: null,
          edgesTouchingRows: null,
          sameStepsAsCandidate: null,
          skipped: `not run: the recursive query alone is predicted at ~${Math.round(predicted)} ms (${round(msPerNode ?? 0, 1)} ms per traced node in the cases before it x ${size} nodes), above ${SLOW_QUERY_MS} ms`,
        });
        continue;
      }
      const r = await measureCase(b, c, expected.get(c));
      asShipped.push(r);
      if (r.ms && r.nodes > 1) msPerNode = Math.max(msPerNode ?? 0, r.ms.queryOnly.p50 / r.nodes);
    }

    progress("ANALYZE, then as shipped again");
    const analyzeStarted = performance.now();
    const writer = new BetterSqlite3(config.databaseFile, { fileMustExist: true });
    try {
      writer.exec("ANALYZE");
    } finally {
      writer.close();
    }
    const analyzeMs = performance.now() - analyzeStarted;
    const plansAnalyzed = queryPlans(readOnly, shipped, tenantDb.tenantId, typical, typicalIds);
    const afterAnalyze: CaseResult[] = [];
    for (const c of cases) {
      progress(`case: ${c.name}, depth ${c.depth}`);
      afterAnalyze.push(await measureCase(b, c, expected.get(c)));
    }

    const row = (phase: string, r: CaseResult): Record<string, unknown> => ({
      case: `${r.case} d=${r.depth}`,
      phase,
      nodes: r.nodes,
      edges: r.edges,
      "trace p50": r.ms?.traceUpstream.p50 ?? r.skipped ?? null,
      "trace p95": r.ms?.traceUpstream.p95 ?? null,
      "trace max": r.ms?.traceUpstream.max ?? null,
      "query p50": r.ms?.queryOnly.p50 ?? null,
      "nodes p50": r.ms?.loadNodes.p50 ?? null,
      "touching p50": r.ms?.edgesTouching.p50 ?? null,
      "getNode p50": r.ms?.getNode.p50 ?? null,
    });
    const summary = [
      ...asShipped.map((r) => row("shipped", r)),
      ...afterAnalyze.map((r) => row("ANALYZEd", r)),
      ...candidates.map((r) => ({
        case: `${r.case} d=${r.depth}`,
        phase: "candidate SQL",
        nodes: r.nodes,
        edges: null,
        "trace p50": null,
        "trace p95": null,
        "trace max": null,
        "query p50": r.ms.trace.p50,
        "nodes p50": r.ms.nodes.p50,
        "touching p50": r.ms.edgesTouching.p50,
        "getNode p50": null,
      })),
    ];
    return {
      note: [
        `In-process domain calls, ${availableParallelism()} logical CPUs, no HTTP/auth/JSON. Per figure up to ${WARMUP} warm-up and ${RUNS} timed runs within ${SAMPLE_BUDGET_MS} ms (at least ${MIN_RUNS};`,
        `a call slower than ${SLOW_CALL_MS} ms gets its first call as only warm-up and ${MIN_SLOW_RUNS} timed run(s): see each figure's runs); nearest-rank percentiles in ms.`,
        "traceUpstream = access check + recursive query + node rows + title decryption + custody edges among the traced nodes; queryOnly = the recursive CTE alone (tenantDb.trace);",
        "loadNodes (tenantDb.nodes) and edgesTouching (tenantDb.edgesTouching) = the two other reads of traceUpstream on the same node set; getNode = the single-node GET equivalent (title and body decrypted) on the same root.",
        "'shipped' is the appliance as it is (its database has no sqlite_stat1: nothing runs ANALYZE); 'afterAnalyze' repeats it after ANALYZE; 'candidate' runs bench-only rewrites of the three statements",
        "(CROSS JOIN + INDEXED BY in the CTE, a UNION for edges touching, +tenant_id for nodes by id) on a read-only handle, query only.",
        `A shipped case whose recursive query is predicted above ${SLOW_QUERY_MS} ms is not run (see its 'skipped').`,
        "Rows are inserted in key order at setup, so the database is as compact as after VACUUM; a long-lived one may read a little slower.",
      ].join(" "),
      loadAverage1m: { atStart: loadAtStart, atEnd: round(loadavg()[0] ?? 0, 2), cpus: availableParallelism() },
      limits: { DEFAULT_TRACE_DEPTH, MAX_TRACE_DEPTH, MAX_TRACE_NODES },
      project: {
        nodes: graph.nodes.length,
        nodesByType: COUNTS,
        edges: graph.edges.length,
        edgesByType,
        titleTerms: "none (empty terms array)",
        seed: SEED,
      },
      setupSeconds: {
        total: round(setupMs / 1000, 2),
        applianceTenantAdminProject: round(applianceMs / 1000, 2),
        planGraph: round(planMs / 1000, 2),
        encryptTitlesAndBodies: round(encryptMs / 1000, 2),
        insertNodes: round(nodeInsertMs / 1000, 2),
        insertEdges: round(edgeInsertMs / 1000, 2),
        analyze: round(analyzeMs / 1000, 2),
      },
      shipped: asShipped,
      afterAnalyze,
      candidate: candidate ? { statements: candidate, results: candidates } : null,
      queryPlans: { shipped: plansShipped, afterAnalyze: plansAnalyzed, candidate: plansCandidate },
      summary,
    };
  } finally {
    readOnly?.close();
    services?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
