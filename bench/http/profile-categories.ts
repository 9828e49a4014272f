/**
 * The coarse split of a CPU profile, in the terms of issue 15: which kind of work a sample was
 * doing. A sample belongs to the innermost frame whose file says what it is for; Node's
 * scheduling (timers, promises, nextTick) and V8's builtins are passed over to their caller.
 *
 * better-sqlite3's native calls do not show as frames of their own: their time is the self time of
 * the JS function that called them. So self time in src/db/write-path.ts is the write path's own
 * statements (BEGIN IMMEDIATE, SAVEPOINT, RELEASE, total_changes(), COMMIT with its WAL fsync),
 * self time in src/db/statements.ts is preparing (and looking up) cached statements, and self time
 * elsewhere in src/db is running the statements. Node's native socket writes (writev and friends,
 * under stream_base_commons) are where TLS encrypts and the kernel sends the bytes; on a busy machine
 * they are also where the main thread most often loses its core (the write wakes the client), and
 * the profiler's next sample lands there once it runs again (bench/http/profile.ts counts those
 * involuntary switches). TLS's JS side (node:_tls_wrap) counts with Node's HTTP and streams.
 * TLS decryption of what arrives runs in native code before any JS is called: "(program)".
 */
export interface Frame {
  readonly name: string;
  /** Repository-relative path or node:...; "" for native code and builtins (bench/http/source-locations.ts). */
  readonly file: string;
  readonly line: number;
}

export const CATEGORIES = [
  "SQLite BEGIN/COMMIT/savepoints (WAL fsync)",
  "SQLite statement prepare (and cache lookup)",
  "SQLite statements (run/get)",
  "logging",
  "crypto/decrypt",
  "authentication",
  "audit",
  "license",
  "JSON/zod validation",
  "Hono routing/response (hono, @hono/node-server, src/server)",
  "socket writes: TLS encrypt + send (and waits for a core)",
  "Node HTTP/net/streams/TLS (JS)",
  "domain and other src/",
  "other libraries",
  "Node runtime (timers, promises, other)",
  "(program): V8 and native code outside JS",
  "GC",
  "idle",
] as const;
export type Category = (typeof CATEGORIES)[number];

const BY_FILE: readonly [RegExp, Category][] = [
  [
    /^src\/log\.ts$|^src\/server\/middleware\/access-log\.ts$|^node_modules\/(pino|fast-redact|sonic-boom|thread-stream|@pinojs|quick-format-unescaped|atomic-sleep|fast-safe-stringify|safe-stable-stringify)/,
    "logging",
  ],
  [/^src\/crypto\/|^node_modules\/@noble\/|^node:(internal\/)?crypto/, "crypto/decrypt"],
  [/^src\/auth\//, "authentication"],
  [/^src\/audit\//, "audit"],
  [/^src\/license\/|^src\/server\/middleware\/license-guard\.ts$/, "license"],
  [/^src\/db\/|^node_modules\/better-sqlite3\//, "SQLite statements (run/get)"],
  [/^node_modules\/zod\/|^src\/server\/json-body\.ts$/, "JSON/zod validation"],
  [
    /^node_modules\/(hono|@hono\/node-server)\/|^src\/server\//,
    "Hono routing/response (hono, @hono/node-server, src/server)",
  ],
  [
    /^node:(_http|http|https|net|stream|events|buffer|string_decoder|internal\/(http|streams|stream_base|net|url|buffer|event_target))/,
    "Node HTTP/net/streams/TLS (JS)",
  ],
  [/^src\//, "domain and other src/"],
  [/^node_modules\//, "other libraries"],
];

const WRITE_PATH = "src/db/write-path.ts";
const STATEMENTS = "src/db/statements.ts";
const SOCKET_WRITES = "node:internal/stream_base_commons";
const SPECIAL: Readonly<Record<string, Category>> = {
  "(idle)": "idle",
  "(garbage collector)": "GC",
  "(program)": "(program): V8 and native code outside JS",
};

function byFile(file: string): Category | undefined {
  if (file === "") return undefined;
  return BY_FILE.find(([pattern]) => pattern.test(file))?.[1];
}

/** The category of one sample; `stack` leaf first. */
export function categorize(stack: readonly Frame[]): Category {
  const leaf = stack[0];
  if (leaf === undefined) return "Node runtime (timers, promises, other)";
  const special = SPECIAL[leaf.name];
  if (special !== undefined && leaf.file === "") return special;
  if (leaf.file === WRITE_PATH) return "SQLite BEGIN/COMMIT/savepoints (WAL fsync)";
  if (leaf.file === STATEMENTS) return "SQLite statement prepare (and cache lookup)";
  const owner = stack.findIndex((f) => byFile(f.file) !== undefined);
  const passed = owner < 0 ? stack : stack.slice(0, owner);
  const natives = passed.filter((f) => f.file === "").map((f) => f.name);
  if (natives.includes("prepare")) return "SQLite statement prepare (and cache lookup)";
  if (leaf.file === "" && stack[1]?.file === SOCKET_WRITES)
    return "socket writes: TLS encrypt + send (and waits for a core)";
  if (owner < 0) return "Node runtime (timers, promises, other)";
  const category = byFile((stack[owner] as Frame).file) as Category;
  if (category !== "logging" && natives.some((n) => n === "stringify" || n === "parse")) return "JSON/zod validation";
  return category;
}
