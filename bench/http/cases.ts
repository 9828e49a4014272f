/**
 * What bench/http.bench.ts measures: groups of sides run interleaved (each round visits every side
 * of its group, starting one further each round), so that a side and its baseline share whatever
 * else the machine does in the meantime.
 */
import { NODE_BODY, type Appliance } from "./appliance.js";
import type { Bare } from "./bare.js";
import type { LoadJob } from "./protocol.js";

export type Op = "create" | "read";
export type Credential = "session JWT" | "PAT";

/** A real server variant: the appliance as it ships ("real"), or the same with other settings. */
export interface RealVariant {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
  /** The groups (op@clients) it takes part in, as a side with a session JWT. */
  readonly groups: readonly string[];
}

/**
 * Other real servers, started, provisioned and measured like "real". Issue 15 asks for "creates
 * at 64 clients ≥ 0.8× the same server with synchronous=NORMAL": the appliance with
 * VECTO_SQLITE_SYNCHRONOUS=normal acknowledges a write once it is committed, without waiting for
 * the WAL's fsync (src/db/wal-sync.ts): what durability costs on top of everything else.
 */
export const EXTRA_VARIANTS: readonly RealVariant[] = [
  { name: "synchronous=NORMAL", env: { VECTO_SQLITE_SYNCHRONOUS: "normal" }, groups: ["create@10", "create@64"] },
];

export interface Side {
  /** Unique within its group: "real JWT", "bare", "real PAT + login storm", ... */
  readonly label: string;
  /** "real", "bare" or an extra variant's name. */
  readonly server: string;
  readonly credential: Credential | null;
  readonly storm: boolean;
}

export interface Group {
  readonly key: string;
  readonly op: Op;
  readonly clients: number;
  readonly sides: readonly Side[];
}

const real = (credential: Credential, storm = false): Side => ({
  label: `real ${credential === "PAT" ? "PAT" : "JWT"}${storm ? " + login storm" : ""}`,
  server: "real",
  credential,
  storm,
});
const BARE: Side = { label: "bare", server: "bare", credential: null, storm: false };
/** The appliance as it ships with the tenant admin's session JWT (bench/http/profile.ts drives it alone). */
export const REAL_JWT: Side = real("session JWT");

export function groups(variants: readonly RealVariant[]): Group[] {
  const base: { op: Op; clients: number; storm: boolean }[] = [
    { op: "create", clients: 10, storm: false },
    { op: "create", clients: 64, storm: false },
    // The storm rows sit in the group of idle reads at 10 clients: idle and storm alternate.
    { op: "read", clients: 10, storm: true },
    { op: "read", clients: 64, storm: false },
  ];
  return base.map(({ op, clients, storm }) => {
    const key = `${op}@${clients}`;
    const extra = variants
      .filter((v) => v.groups.includes(key))
      .map((v): Side => ({ label: `${v.name} JWT`, server: v.name, credential: "session JWT", storm: false }));
    const stormSides = storm ? [real("session JWT", true), real("PAT", true)] : [];
    return { key, op, clients, sides: [real("session JWT"), real("PAT"), BARE, ...extra, ...stormSides] };
  });
}

/** A fresh title per request (bench/http/load.ts fills in "[<id>]"), the same body for both servers. */
const CREATE_BODY = JSON.stringify({ type: "note", title: "Bench note [<id>]", body: NODE_BODY });

/** The autocannon job for one side (id and duration filled in by the caller). */
export function job(
  group: Group,
  side: Side,
  servers: { readonly real: ReadonlyMap<string, Appliance>; readonly bare?: Bare },
): Omit<LoadJob, "id" | "seconds"> {
  const appliance = side.server === "bare" ? undefined : servers.real.get(side.server);
  const target = appliance ?? (side.server === "bare" ? servers.bare : undefined);
  if (target === undefined) throw new Error(`no server ${side.server}`);
  const primary = servers.real.get("real");
  // The bare server ignores Authorization; it gets the same header so that requests are the same size.
  const token = side.credential === "PAT" ? appliance?.pat : (appliance ?? primary)?.jwt;
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  const prefix = appliance === undefined ? "" : "/api";
  const common = {
    type: "run" as const,
    origin: `https://127.0.0.1:${target.server.port}`,
    connections: group.clients,
    serverPid: target.server.pid,
  };
  if (group.op === "create")
    return {
      ...common,
      method: "POST",
      paths: [`${prefix}/projects/${target.projectId}/nodes`],
      headers: { ...headers, "Content-Type": "application/json" },
      body: CREATE_BODY,
    };
  return { ...common, method: "GET", paths: target.nodeIds.map((id) => `${prefix}/nodes/${id}`), headers };
}
