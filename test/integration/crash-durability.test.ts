/**
 * Crash durability (issue 14, point 3): a real `vecto serve` on a real file system, with its
 * default durability (WAL, synchronous=FULL), is killed with SIGKILL at a random moment while
 * CLIENTS concurrent clients create nodes and update their own nodes (If-Match). Every request's
 * outcome is recorded: acknowledged (a 2xx arrived), refused (another answer arrived), failed (the
 * connection was refused: nothing was sent) or unknown (the connection was cut before an answer).
 * After each restart on the same data directory:
 * - every acknowledged create is present, with the id, title and body acknowledged;
 * - every acknowledged update is visible (its version, title and body);
 * - a node whose create or update had no answer is either absent or at that version, whole: its
 *   title and body exactly as sent and decryptable (nothing unacknowledged is half-present); a
 *   refused or never-sent write is absent;
 * - the tenant's log holds exactly one node.created event per present node and exactly one
 *   node.updated event per version reached, and none for a write that is not there;
 * - `vecto audit verify` passes and `PRAGMA integrity_check` is ok on vecto.db and keys.db.
 * At the end every round's project is checked again as it was settled after its own crash.
 *
 * Each round has its own project; one tenant serves all rounds. The kill delays and each client's
 * choices come from generators seeded from one seed, printed with the round count. The interleaving
 * of concurrent requests is the scheduler's, so a seed replays the same kill moments, not the same
 * races. Long mode: VECTO_CRASH_ROUNDS=200 (any count); replay: VECTO_CRASH_SEED=<printed seed>.
 */
import { randomInt } from "node:crypto";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, httpsRequest, runCli, startServe, tempDir, waitForExit, type HttpsResult } from "../helpers.js";
import { STRONG_PASSWORD } from "../identity-fixture.js";
import { seededRandom } from "../seeded-random.js";

type Server = Awaited<ReturnType<typeof startServe>>;
type Outcome = "acknowledged" | "refused" | "failed" | "unknown";

const ROUNDS = Number(process.env.VECTO_CRASH_ROUNDS ?? "20");
const SEED = Number(process.env.VECTO_CRASH_SEED ?? String(randomInt(2 ** 31)));
const CLIENTS = 8;
/** The kill lands this long after the load starts: long enough for writes to pile up, short enough to keep rounds cheap. */
const KILL_AFTER_MS = { min: 40, max: 600 } as const;
const UPDATE_SHARE = 0.35;

interface Content {
  readonly title: string;
  readonly body: string;
}

/** One node a client tried to create, and what it knows of it. */
interface Tracked {
  readonly marker: string;
  /** The content of each version, version 1 first, as sent. */
  readonly versions: Content[];
  create: Outcome;
  id: string | undefined;
  /** The highest version acknowledged (0 while the create is not). */
  acknowledged: number;
  /** A version sent without an answer: the node may be at it. */
  pending: number | undefined;
}

interface Round {
  readonly index: number;
  readonly projectId: string;
  readonly since: string;
  readonly nodes: Tracked[];
}

interface NodeView {
  readonly id: string;
  readonly title: string;
  readonly body: string;
  readonly version: number;
}

interface AuditLine {
  readonly event: string;
  readonly payload: { readonly nodeId?: string; readonly projectId?: string; readonly version?: number };
}

function contentOf(marker: string, version: number): Content {
  // A body of a few KiB spans pages, so a torn write would show in it.
  const line = `${marker} version ${version} ${"abcdefghijklmnopqrstuvwxyz0123456789".repeat(3)}\n`;
  return { title: version === 1 ? marker : `${marker} v${version}`, body: line.repeat(24 + (version % 7)) };
}

/** How a request ended, from the client's side; a refused connection means the request never left. */
async function attempt(send: () => Promise<HttpsResult>): Promise<{ outcome: Outcome; res?: HttpsResult }> {
  try {
    const res = await send();
    return { outcome: res.status >= 200 && res.status < 300 ? "acknowledged" : "refused", res };
  } catch (error) {
    return { outcome: (error as { code?: string }).code === "ECONNREFUSED" ? "failed" : "unknown" };
  }
}

describe("crash durability under SIGKILL and concurrent writes", () => {
  const dir = tempDir("vecto-crash-");
  const dataDir = join(dir.path, "data");
  /** Kill delays from their own generator, so a seed replays them whatever the clients drew. */
  const killDelays = seededRandom(SEED);
  const rounds: Round[] = [];
  let server: Server | undefined;
  let port = 0;
  let token = "";
  const tally = { creates: {} as Partial<Record<Outcome, number>>, updates: 0, unknownPresent: 0 };

  const call = (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    bearer = token,
  ): Promise<HttpsResult> =>
    httpsRequest(port, path, {
      method,
      headers: {
        ...headers,
        ...(bearer ? { Authorization: `Bearer ${bearer}` } : {}),
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const json = <T>(res: HttpsResult, status = 200): T => {
    expect(res.status, res.body).toBe(status);
    return JSON.parse(res.body) as T;
  };
  const env = (): Record<string, string> => ({
    VECTO_DATA_DIR: dataDir,
    VECTO_LISTEN: `127.0.0.1:${port}`,
    VECTO_BACKUP_SCHEDULE: "off",
    VECTO_LOG_LEVEL: "warn",
    // Many requests a second from one token and one address: the limiter is not under test here.
    VECTO_RATE_LIMIT_PER_CREDENTIAL: "off",
    VECTO_RATE_LIMIT_PER_ADDRESS: "off",
  });
  const start = async (args: string[] = ["--no-setup-token"]): Promise<Server> => {
    port = await freePort();
    server = await startServe(dir.path, { ...env(), VECTO_LOG_LEVEL: "info" }, args);
    return server;
  };
  const kill = async (): Promise<void> => {
    const running = server;
    server = undefined;
    if (!running) return;
    running.child.kill("SIGKILL");
    await waitForExit(running.child);
  };

  /** One client: creates nodes and updates its own, until its server is gone. */
  async function client(round: number, index: number, nodes: Tracked[], projectId: string): Promise<void> {
    const mine: Tracked[] = [];
    const random = seededRandom(SEED + (round * CLIENTS + index + 1) * 0x9e3779b9);
    for (let seq = 0; ; seq++) {
      const target = random() < UPDATE_SHARE ? mine[Math.floor(random() * mine.length)] : undefined;
      const outcome = target
        ? await update(target)
        : await create(`crash r${round} c${index} s${seq}`, mine, nodes, projectId);
      if (outcome === "failed" || outcome === "unknown") return;
    }
  }

  async function create(marker: string, mine: Tracked[], nodes: Tracked[], projectId: string): Promise<Outcome> {
    const node: Tracked = {
      marker,
      versions: [contentOf(marker, 1)],
      create: "unknown",
      id: undefined,
      acknowledged: 0,
      pending: undefined,
    };
    nodes.push(node);
    const { outcome, res } = await attempt(() =>
      call("POST", `/api/projects/${projectId}/nodes`, { type: "note", ...node.versions[0] }),
    );
    node.create = outcome;
    if (outcome === "acknowledged" && res) {
      const view = (JSON.parse(res.body) as { node: NodeView }).node;
      expect(view).toMatchObject({ ...node.versions[0], version: 1 });
      node.id = view.id;
      node.acknowledged = 1;
      mine.push(node);
    }
    return outcome;
  }

  async function update(node: Tracked): Promise<Outcome> {
    const next = node.acknowledged + 1;
    node.versions.push(contentOf(node.marker, next));
    node.pending = next;
    const ifMatch = { "If-Match": `"${node.acknowledged}"` };
    const { outcome, res } = await attempt(() =>
      call("PATCH", `/api/nodes/${node.id ?? ""}`, node.versions[next - 1], ifMatch),
    );
    if (outcome === "unknown") return outcome;
    node.pending = undefined;
    if (outcome === "acknowledged" && res) {
      expect((JSON.parse(res.body) as { node: NodeView }).node).toMatchObject({
        ...node.versions[next - 1],
        version: next,
      });
      node.acknowledged = next;
    } else node.versions.pop();
    return outcome;
  }

  async function listed(projectId: string): Promise<NodeView[]> {
    const out: NodeView[] = [];
    let cursor: string | null = null;
    do {
      const path = `/api/projects/${projectId}/nodes?limit=500${cursor ? `&cursor=${cursor}` : ""}`;
      const page: { nodes: NodeView[]; nextCursor: string | null } = json(await call("GET", path));
      out.push(...page.nodes);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return out;
  }

  async function auditEvents(event: string, round: Round): Promise<AuditLine[]> {
    const res = await call("GET", `/api/audit?event=${event}&from=${encodeURIComponent(round.since)}`);
    expect(res.status, res.body).toBe(200);
    const lines = res.body.split("\n").filter((l) => l !== "");
    return lines.map((l) => JSON.parse(l) as AuditLine).filter((e) => e.payload.projectId === round.projectId);
  }

  /**
   * The rows and events of one round's project against what its clients know; settles each node
   * to what is there. Returns how many writes without an answer were found (whole).
   */
  async function checkRound(round: Round): Promise<number> {
    const where = `round ${round.index} (seed ${SEED})`;
    const present = new Map<string, NodeView>();
    for (const view of await listed(round.projectId)) {
      const marker = /^crash r\d+ c\d+ s\d+/.exec(view.title)?.[0] ?? "";
      expect(present.has(marker), `${where}: ${view.title} twice`).toBe(false);
      present.set(marker, view);
    }
    const byMarker = new Map(round.nodes.map((n) => [n.marker, n]));
    for (const marker of present.keys())
      expect(byMarker.has(marker), `${where}: a node no client sent: "${marker}"`).toBe(true);

    const versions = new Map<string, number>();
    let unanswered = 0;
    for (const node of round.nodes) {
      const view = present.get(node.marker);
      if (node.create === "acknowledged")
        expect(view?.id, `${where}: acknowledged create of ${node.marker} lost`).toBe(node.id);
      if (node.create === "refused" || node.create === "failed")
        expect(view, `${where}: ${node.create} create of ${node.marker} is there`).toBeUndefined();
      if (view === undefined) continue;
      const allowed = [node.acknowledged || 1, ...(node.pending !== undefined ? [node.pending] : [])];
      expect(
        allowed,
        `${where}: ${node.marker} at version ${view.version}, acknowledged ${node.acknowledged}`,
      ).toContain(view.version);
      expect(
        { title: view.title, body: view.body },
        `${where}: ${node.marker} version ${view.version} not whole`,
      ).toEqual(node.versions[view.version - 1]);
      versions.set(view.id, view.version);
      if (node.create === "unknown" || view.version === node.pending) unanswered += 1;
      // Settled: what survived this crash is what later checks expect.
      Object.assign(node, { create: "acknowledged", id: view.id, acknowledged: view.version, pending: undefined });
      node.versions.length = view.version;
    }
    for (const node of round.nodes) if (!present.has(node.marker)) node.create = "failed";

    const created = (await auditEvents("node.created", round)).map((e) => e.payload.nodeId ?? "");
    expect(created.sort(), `${where}: node.created events`).toEqual([...versions.keys()].sort());
    const updated = (await auditEvents("node.updated", round)).map(
      (e) => `${e.payload.nodeId ?? ""}@${e.payload.version ?? 0}`,
    );
    const expectedUpdates = [...versions].flatMap(([id, version]) =>
      Array.from({ length: version - 1 }, (_, i) => `${id}@${i + 2}`),
    );
    expect(updated.sort(), `${where}: node.updated events`).toEqual(expectedUpdates.sort());
    return unanswered;
  }

  function checkFiles(where: string): void {
    const verified = runCli(["audit", "verify", "--json"], {
      cwd: dir.path,
      env: { ...env(), VECTO_LOG_LEVEL: "silent" },
    });
    // The reasons alone: the whole report of every log would be cut off in the failure message.
    const reasons = verified.stdout.match(/"reason":\s*"[^"]*"/g) ?? [verified.stdout.slice(0, 2000)];
    expect(verified.status, `${where}: ${reasons.join("; ")} ${verified.stderr}`).toBe(0);
    expect((JSON.parse(verified.stdout) as { ok: boolean }).ok).toBe(true);
    for (const file of ["vecto.db", "keys.db"]) {
      const db = new BetterSqlite3(join(dataDir, file), { readonly: true, fileMustExist: true });
      try {
        expect(db.pragma("integrity_check"), `${where}: ${file}`).toEqual([{ integrity_check: "ok" }]);
      } finally {
        db.close();
      }
    }
  }

  beforeAll(async () => {
    console.log(
      `crash durability: ${ROUNDS} rounds, ${CLIENTS} clients, seed ${SEED} (replay with VECTO_CRASH_SEED=${SEED})`,
    );
    const first = await start(["--setup-token"]);
    const setupToken = /vst_[A-Za-z0-9_-]{43}/.exec(first.stderr())?.[0];
    const password = STRONG_PASSWORD;
    const login = async (body: object): Promise<string> =>
      json<{ accessToken: string }>(await call("POST", "/api/auth/login", body, {}, "")).accessToken;
    json(
      await call("POST", "/api/setup", { token: setupToken, email: "root@crash.test", name: "Root", password }, {}, ""),
      201,
    );
    const root = await login({ email: "root@crash.test", password });
    const tenant = { slug: "crash", name: "Crash", admin: { email: "admin@crash.test", name: "Admin", password } };
    json(await call("POST", "/api/tenants", tenant, {}, root), 201);
    const admin = await login({ tenant: "crash", email: "admin@crash.test", password });
    // A personal token outlives restarts and needs no password hash per round.
    const expiresAt = new Date(Date.now() + 7 * 24 * 3600_000).toISOString();
    const request = { name: "crash", scopes: ["graph:read", "graph:write", "audit:read"], expiresAt };
    token = json<{ token: string }>(await call("POST", "/api/tokens", request, {}, admin), 201).token;
  }, 60_000);

  afterAll(async () => {
    await kill();
    dir.cleanup();
  });

  it(
    `keeps every acknowledged write whole, with exactly one audit event, over ${ROUNDS} SIGKILLs`,
    async () => {
      for (let index = 0; index < ROUNDS; index++) {
        server ??= await start();
        const since = new Date(Date.now() - 1000).toISOString();
        const projectId = json<{ project: { id: string } }>(
          await call("POST", "/api/projects", { name: `round ${index}` }),
          201,
        ).project.id;
        const round: Round = { index, projectId, since, nodes: [] };
        rounds.push(round);
        const delay = KILL_AFTER_MS.min + Math.floor(killDelays() * (KILL_AFTER_MS.max - KILL_AFTER_MS.min));
        const load = Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(index, c, round.nodes, projectId)));
        await new Promise((resolve) => setTimeout(resolve, delay));
        await kill();
        await load;
        for (const node of round.nodes) {
          tally.creates[node.create] = (tally.creates[node.create] ?? 0) + 1;
          tally.updates += Math.max(0, node.acknowledged - 1);
        }
        await start();
        tally.unknownPresent += await checkRound(round);
        checkFiles(`round ${index} (seed ${SEED})`);
      }
      // Later crashes left earlier rounds as they were settled.
      for (const round of rounds) await checkRound(round);
      const { creates, updates, unknownPresent } = tally;
      console.log(
        `crash durability: creates ${JSON.stringify(creates)}, updates acknowledged ${updates}, unanswered writes found whole ${unknownPresent}`,
      );
    },
    Math.max(120_000, ROUNDS * 10_000),
  );
});
