/**
 * The rules of the house (DESIGN.md), checked on the sources so that they hold tomorrow too:
 * only src/db touches SQLite, only src/egress.ts reaches other hosts, only src/config.ts reads
 * the environment, only src/auth mints tenant scopes. Every rule's check is also shown to flag a
 * synthetic offending source and to pass a benign one, so none of these can pass by matching
 * nothing, nor fail on everything.
 */
import { posix } from "node:path";
import { describe, expect, it } from "vitest";
import { importedModules, namedImportsFrom, sourceFiles, type SourceFile } from "../source-files.js";

const src = sourceFiles("src");
const vendorTool = sourceFiles("licensing");

function offenders(
  files: readonly SourceFile[],
  isOffence: (file: SourceFile) => boolean,
  allowed: (path: string) => boolean,
): string[] {
  return files.filter((f) => !allowed(f.path) && isOffence(f)).map((f) => f.path);
}

const importsSqlite = (f: SourceFile): boolean => importedModules(f).includes("better-sqlite3");

const NETWORK_MODULES = [
  "node:http",
  "node:https",
  "node:net",
  "node:tls",
  "node:dgram",
  "node:http2",
  "http",
  "https",
  "net",
  "tls",
  "dgram",
  "http2",
  "undici",
];
const importsNetwork = (f: SourceFile): boolean => importedModules(f).some((m) => NETWORK_MODULES.includes(m));
const callsFetch = (f: SourceFile): boolean =>
  /(^|[^.\w])fetch\s*\(|globalThis\.fetch|\bWebSocket\b|\bEventSource\b/.test(f.text);
/** A listener may take only what accepts connections (createServer, server, request/response and address types, status texts) from the network modules. */
const LISTENING_NAMES = [
  "createServer",
  "Server",
  "AddressInfo",
  "IncomingMessage",
  "ServerResponse",
  "OutgoingHttpHeader",
  "OutgoingHttpHeaders",
  "STATUS_CODES",
  "maxHeaderSize",
];
const opensConnection = (f: SourceFile): boolean =>
  NETWORK_MODULES.some((m) => namedImportsFrom(f, m).some((name) => !LISTENING_NAMES.includes(name)));

const readsEnv = (f: SourceFile): boolean => /\bprocess\.env\b/.test(f.text);
const mints = (f: SourceFile): boolean => /\bmintTenantScope\s*\(/.test(f.text);
const usesConsole = (f: SourceFile): boolean => /\bconsole\.(log|info|warn|debug|trace)\s*\(/.test(f.text);
const runtimePaths = (f: SourceFile): boolean => /\bimport\.meta\b|\b__dirname\b|\b__filename\b/.test(f.text);

/** Every src/crypto module a file imports by relative path, resolved (src/crypto/index.js, src/crypto/ed25519.js, ...). */
const cryptoModules = (f: SourceFile): string[] =>
  importedModules(f)
    .filter((m) => m.startsWith("."))
    .map((m) => posix.join(posix.dirname(f.path), m))
    .filter((target) => target.startsWith("src/crypto/"));
const CRYPTO_ENTRY = "src/crypto/index.js";
/**
 * The one exemption from "only through index.ts": the vendor's tool (licensing/) and the format
 * modules it shares with the appliance import the standalone Ed25519 module, src/crypto/ed25519.ts,
 * and nothing else of src/crypto, because the tool must not load the crypto service, its resolvers
 * or native addons (test/unit/license/dependencies.test.ts).
 */
const ED25519_MODULE = "src/crypto/ed25519.js";
const VENDOR_SHARED = ["src/license/format.ts", "src/usage/report-format.ts"];
const mayImportEd25519 = (path: string): boolean => VENDOR_SHARED.includes(path) || path.startsWith("licensing/");
const bypassesCryptoEntry = (f: SourceFile): boolean =>
  cryptoModules(f).some((m) => m !== CRYPTO_ENTRY && !(m === ED25519_MODULE && mayImportEd25519(f.path)));

/**
 * Key operations: node:crypto's ciphers, MACs, key objects, signatures, key generation and key
 * derivation; the noble MAC, KDF, cipher and curve modules; jose's signing and verification; and a
 * master-key resolver's wrap/unwrap. Hashing (createHash, @noble/hashes/sha2), randomBytes,
 * randomUUID, timingSafeEqual, X509Certificate (reading a certificate) and argon2 (passwords) are
 * not key operations and stay allowed everywhere.
 */
const NODE_KEY_FUNCTIONS = [
  "createCipheriv",
  "createDecipheriv",
  "createHmac",
  "createSign",
  "createVerify",
  "sign",
  "verify",
  "generateKeyPair",
  "generateKeyPairSync",
  "generateKey",
  "generateKeySync",
  "createPrivateKey",
  "createPublicKey",
  "createSecretKey",
  "KeyObject",
  "hkdf",
  "hkdfSync",
  "pbkdf2",
  "pbkdf2Sync",
  "scrypt",
  "scryptSync",
  "diffieHellman",
  "createDiffieHellman",
  "createECDH",
  "publicEncrypt",
  "privateDecrypt",
  "privateEncrypt",
  "publicDecrypt",
  "webcrypto",
  "subtle",
  "*",
];
const NOBLE_KEY_MODULES = /^@noble\/(ciphers|curves)(\/|$)|^@noble\/hashes\/(hmac|hkdf|pbkdf2|scrypt)(\.js)?$/;
/** From jose, code outside src/crypto may take its error classes and decode (never verify) a token. */
const JOSE_OUTSIDE_CRYPTO = [
  "errors",
  "decodeJwt",
  "decodeProtectedHeader",
  "JWTPayload",
  "JWTHeaderParameters",
  "JWTVerifyOptions",
  "JWTVerifyResult",
];
/** src/crypto's own ways between key bytes and handles (a seed to a signer, bytes to a file key and back). */
const KEY_BYTE_FUNCTIONS = ["ed25519SignerFromSeed", "fileKeyFromBytes", "fileKeyBytes"];
const usesKeys = (f: SourceFile): boolean =>
  ["node:crypto", "crypto"].some((m) => namedImportsFrom(f, m).some((name) => NODE_KEY_FUNCTIONS.includes(name))) ||
  importedModules(f).some(
    (m) => /(^|\/)crypto\//.test(m) && namedImportsFrom(f, m).some((name) => KEY_BYTE_FUNCTIONS.includes(name)),
  ) ||
  importedModules(f).some((m) => NOBLE_KEY_MODULES.test(m)) ||
  namedImportsFrom(f, "jose").some((name) => !JOSE_OUTSIDE_CRYPTO.includes(name)) ||
  /\.(wrap|unwrap)\s*\(/.test(f.text);
const isCrypto = (path: string): boolean => path.startsWith("src/crypto/");

/** The self-check of one rule: it flags every offending source and none of the benign ones. */
function expectCheck(
  isOffence: (file: SourceFile) => boolean,
  offending: readonly string[],
  benign: readonly string[],
): void {
  const file = (text: string): SourceFile => ({ path: "src/x.ts", text });
  expect(
    offending.filter((text) => !isOffence(file(text))),
    "offending sources the check misses",
  ).toEqual([]);
  expect(
    benign.filter((text) => isOffence(file(text))),
    "benign sources the check flags",
  ).toEqual([]);
}

/** Files that accept connections: the HTTPS and redirect listeners and their transport (src/server/transport/). */
const isListener = (path: string): boolean =>
  path === "src/server/listen.ts" || path.startsWith("src/server/transport/");
/** Modules that need node:net only for address parsing (isIP), not for sockets. */
const ADDRESS_PARSING = ["src/egress.ts", "src/net-address.ts"];

describe("rules of the house", () => {
  it("reads real sources", () => {
    expect(src.length).toBeGreaterThan(20);
    expect(src.some((f) => f.path === "src/db/db.ts")).toBe(true);
  });

  it("only src/db holds the better-sqlite3 handle", () => {
    expect(offenders(src, importsSqlite, (p) => p.startsWith("src/db/"))).toEqual([]);
    expectCheck(
      importsSqlite,
      [
        'import Database from "better-sqlite3";',
        'const Database = require("better-sqlite3");',
        'export { default } from "better-sqlite3";',
      ],
      ['import { Database } from "../db/db.js";', 'import type BetterSqlite3 from "./better-sqlite3-types.js";'],
    );
  });

  it("only src/egress.ts opens outbound connections; listeners only listen", () => {
    const allowed = (p: string): boolean => p === "src/egress.ts" || isListener(p);
    expect(offenders(src, importsNetwork, (p) => allowed(p) || ADDRESS_PARSING.includes(p))).toEqual([]);
    expect(offenders(src, callsFetch, (p) => p === "src/egress.ts")).toEqual([]);
    expect(
      offenders(
        src.filter((f) => isListener(f.path)),
        opensConnection,
        () => false,
      ),
    ).toEqual([]);
    const egressImports = importedModules(src.find((f) => f.path === "src/egress.ts") as SourceFile);
    expect(egressImports.filter((m) => NETWORK_MODULES.includes(m) && m !== "node:net")).toEqual([]);
    // The checks catch what they are for, and only that:
    expectCheck(
      importsNetwork,
      [
        'import { request } from "node:https";',
        'const net = await import("node:net");',
        'import { fetch } from "undici";',
        'import dgram from "dgram";',
      ],
      ['import { readFile } from "node:fs";', 'import { request } from "../egress.js";'],
    );
    expectCheck(
      callsFetch,
      ["const r = await fetch(url);", "const r = await globalThis.fetch(url);", "const ws = new WebSocket(url);"],
      ["const r = await egress.fetch(url);", "const r = prefetch(url);", "// fetches nothing"],
    );
    expectCheck(
      opensConnection,
      [
        'import { request } from "node:https";',
        'import * as https from "node:https";',
        'import { connect } from "node:net";',
      ],
      ['import { createServer } from "node:https";', 'import type { AddressInfo } from "node:net";'],
    );
  });

  it("only src/config.ts reads the environment", () => {
    expect(offenders(src, readsEnv, (p) => p === "src/config.ts")).toEqual([]);
    expectCheck(
      readsEnv,
      ["const home = process.env.HOME;", "const { PATH } = process.env;"],
      ["const home = config.dataDir;", "const env = loadEnv(file);"],
    );
  });

  it("only src/auth mints tenant scopes", () => {
    expect(offenders(src, mints, (p) => p.startsWith("src/auth/") || p === "src/db/tenant-scope.ts")).toEqual([]);
    expectCheck(
      mints,
      ['const scope = mintTenantScope("t1", actor);', "return mintTenantScope (id, actor);"],
      [
        'import type { TenantScope } from "../db/tenant-scope.js";',
        "const db = services.db.forTenant(principal.tenantScope);",
      ],
    );
  });

  it("nothing in src writes to the console: logs go through pino with redaction", () => {
    expect(offenders(src, usesConsole, () => false)).toEqual([]);
    expectCheck(
      usesConsole,
      ['console.log("token", token);', "console.warn(message);", "console.debug(x);"],
      ['log.info({ event }, "done");', 'logger.warn("slow");'],
    );
  });

  it("bundles for Node SEA: no top-level await, no import.meta, no __dirname lookups in src", () => {
    expect(offenders(src, runtimePaths, () => false)).toEqual([]);
    expectCheck(
      runtimePaths,
      ["const here = new URL(import.meta.url);", 'const file = join(__dirname, "x.sql");', "const me = __filename;"],
      ['import sql from "./0001_init.sql";', "const dirnameOf = (p: string) => p;"],
    );
  });

  it("src/crypto is entered only through src/crypto/index.ts", () => {
    expect(offenders([...src, ...vendorTool], bypassesCryptoEntry, isCrypto)).toEqual([]);
    // The exemption is used for what it is for (the vendor-shared modules do import the Ed25519 module), and for nothing more.
    expect(src.filter((f) => VENDOR_SHARED.includes(f.path)).map((f) => cryptoModules(f))).toEqual([
      [ED25519_MODULE],
      [ED25519_MODULE],
    ]);
    expectCheck(
      bypassesCryptoEntry,
      [
        'import { sealField } from "./crypto/field-cipher.js";',
        'import type { KeyResolver } from "./crypto/key-resolver.js";',
        'export { EnvKeyResolver } from "./crypto/resolvers/env.js";',
        'import { verifyEd25519 } from "./crypto/ed25519.js";',
      ],
      [
        'import { CryptoService } from "./crypto/index.js";',
        'import { createHash } from "node:crypto";',
        'import { x } from "./cryptography/a.js";',
      ],
    );
    const vendor = (text: string): SourceFile => ({ path: "licensing/x.ts", text });
    expect(bypassesCryptoEntry(vendor('import { keyIdOf } from "../src/crypto/ed25519.js";'))).toBe(false);
    expect(bypassesCryptoEntry(vendor('import { CryptoService } from "../src/crypto/crypto-service.js";'))).toBe(true);
  });

  it("no key operation outside src/crypto: keys are used through its handles", () => {
    expect(offenders([...src, ...vendorTool], usesKeys, isCrypto)).toEqual([]);
    expectCheck(
      usesKeys,
      [
        'import { createCipheriv } from "node:crypto";',
        'import { createHmac as mac } from "node:crypto";',
        'import { sign, createPrivateKey } from "crypto";',
        'import { generateKeyPairSync } from "node:crypto";',
        'import { hkdfSync } from "node:crypto";',
        'import * as nodeCrypto from "node:crypto";',
        'import { type KeyObject } from "node:crypto";',
        'import { hmac } from "@noble/hashes/hmac.js";',
        'import { gcm } from "@noble/ciphers/aes.js";',
        'import { SignJWT } from "jose";',
        'import { jwtVerify, errors } from "jose";',
        "const key = await resolver.unwrap(wrapped, aad);",
        'import { ed25519SignerFromSeed } from "../crypto/index.js";',
        'import { fileKeyBytes } from "../crypto/file-key.js";',
      ],
      [
        'import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";',
        'import { X509Certificate } from "node:crypto";',
        'import { sha256 } from "@noble/hashes/sha2.js";',
        'import { errors, type JWTPayload } from "jose";',
        'const signer = await crypto.signer("usage-report");',
        "const tag = key.mac(message);",
        'import { generateEd25519Signer, generateFileKey } from "../crypto/index.js";',
      ],
    );
  });
});

/** The relative imports of each file (type-only ones included: a type cycle is a cycle of meaning), resolved to repository paths. */
type ImportGraph = ReadonlyMap<string, readonly string[]>;

function importGraph(files: readonly SourceFile[]): ImportGraph {
  const paths = new Set(files.map((f) => f.path));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = importedModules(file)
      .filter((m) => m.startsWith("."))
      .map((m) => posix.normalize(posix.join(posix.dirname(file.path), m)).replace(/\.js$/, ".ts"))
      .filter((target) => paths.has(target));
    graph.set(file.path, [...new Set(targets)]);
  }
  return graph;
}

/** A file's place in the folder picture: its top folder under src (src/db), or the file itself for top-level files (src/config.ts). */
const folderOf = (path: string): string =>
  path
    .split("/")
    .slice(0, path.split("/").length > 2 ? 2 : 3)
    .join("/");

/** The folder picture: an arrow between two folders when any file of one imports a file of the other; each arrow keeps one file edge as its witness. */
function folderGraph(graph: ImportGraph): { graph: ImportGraph; witness: (from: string, to: string) => string } {
  const folders = new Map<string, Map<string, string>>();
  for (const [from, targets] of graph) {
    const arrows = folders.get(folderOf(from)) ?? new Map<string, string>();
    folders.set(folderOf(from), arrows);
    for (const to of targets)
      if (folderOf(to) !== folderOf(from) && !arrows.has(folderOf(to))) arrows.set(folderOf(to), `${from} → ${to}`);
  }
  return {
    graph: new Map([...folders].map(([folder, arrows]) => [folder, [...arrows.keys()]])),
    witness: (from, to) => folders.get(from)?.get(to) ?? "?",
  };
}

/** One cycle per strongly connected component (Tarjan), each as the path a → b → … → a. */
function cycles(graph: ImportGraph): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const connect = (node: string): void => {
    index.set(node, next);
    low.set(node, next++);
    stack.push(node);
    for (const to of graph.get(node) ?? []) {
      if (!index.has(to)) {
        connect(to);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(to) ?? 0));
      } else if (stack.includes(to)) low.set(node, Math.min(low.get(node) ?? 0, index.get(to) ?? 0));
    }
    if (low.get(node) !== index.get(node)) return;
    const component = stack.splice(stack.indexOf(node));
    if (component.length > 1 || (graph.get(node) ?? []).includes(node))
      found.push(cycleWithin(graph, new Set(component), node));
  };
  for (const node of graph.keys()) if (!index.has(node)) connect(node);
  return found;
}

/** A shortest cycle through `start` inside one strongly connected component (breadth-first back to start). */
function cycleWithin(graph: ImportGraph, component: ReadonlySet<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift() as string;
    for (const to of graph.get(node) ?? []) {
      if (!component.has(to)) continue;
      if (to === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0] as string) as string);
        return [...path, start];
      }
      if (!previous.has(to)) {
        previous.set(to, node);
        queue.push(to);
      }
    }
  }
  return [start];
}

/** Every file import that leaves `fromFolder` (a path prefix) for a target not on its list, as "from → to". */
function edgesOutside(
  graph: ImportGraph,
  from: (path: string) => boolean,
  allowed: (target: string) => boolean,
): string[] {
  return [...graph].flatMap(([file, targets]) =>
    from(file) ? targets.filter((t) => !allowed(t)).map((t) => `${file} → ${t}`) : [],
  );
}

/** The self-check of a rule over the import picture: it flags every offending set of sources and none of the benign ones. */
function expectGraphCheck(
  violations: (graph: ImportGraph) => readonly unknown[],
  offending: readonly (readonly SourceFile[])[],
  benign: readonly (readonly SourceFile[])[],
): void {
  expect(
    offending.filter((files) => violations(importGraph(files)).length === 0).map((files) => files.map((f) => f.path)),
    "offending pictures the check misses",
  ).toEqual([]);
  expect(
    benign.filter((files) => violations(importGraph(files)).length > 0).map((files) => files.map((f) => f.path)),
    "benign pictures the check flags",
  ).toEqual([]);
}

const srcGraph = importGraph(src);
const under =
  (...folders: string[]) =>
  (path: string): boolean =>
    folders.some((folder) => path.startsWith(`${folder}/`) || path === folder);
const fileCycles = (graph: ImportGraph): string[] => cycles(graph).map((cycle) => cycle.join(" → "));
const folderCycles = (graph: ImportGraph): string[] => {
  const folders = folderGraph(graph);
  return cycles(folders.graph).map(
    (cycle) =>
      `${cycle.join(" → ")} (${cycle
        .slice(1)
        .map((to, i) => folders.witness(cycle[i] as string, to))
        .join("; ")})`,
  );
};
/**
 * What the two lowest layers may import: their own files, the vocabulary, the error kinds of
 * src/errors.ts, native addons; db also the crypto layer beside it (the key store port it
 * implements), crypto the address parser (certificate names). The floor itself (src/vocabulary,
 * src/errors.ts) imports nothing of the project.
 */
const DB_MAY_IMPORT = under("src/db", "src/vocabulary", "src/errors.ts", "src/native", "src/crypto");
const CRYPTO_MAY_IMPORT = under("src/crypto", "src/vocabulary", "src/errors.ts", "src/native", "src/net-address.ts");
const FLOOR = under("src/vocabulary", "src/errors.ts");
/** The folders above the domain: the composition root, what it is started by, and the two faces (HTTP and CLI). */
const ABOVE_DOMAIN = under("src/services.ts", "src/main.ts", "src/cli", "src/server");
/**
 * The modules that may hold the platform database (src/db/db.ts: every log, every tenant by id):
 * the platform modules — tenants and setup, keys, license and usage, jobs, backup, the support
 * bundle, the audit trail's own machinery — and the composition root and CLI that build them.
 * Everything else reaches tenant data only through a door handed to it (TenantDb, with the
 * tenant id bound). Each file outside a platform folder is named with its reason.
 */
const PLATFORM_FOLDERS = under(
  "src/db",
  "src/services.ts",
  "src/main.ts",
  "src/cli",
  "src/key-admin",
  "src/license",
  "src/usage",
  "src/jobs",
  "src/backup",
  "src/support-bundle",
  "src/audit",
);
const PLATFORM_FILES: Record<string, string> = {
  "src/auth/accounts.ts": "tenants and setup: creating a tenant with its first admin, completing setup",
  "src/auth/setup-token.ts": "setup: the one-time setup token",
  "src/auth/tenant-names.ts": "tenants: sealing tenant names at start",
  "src/auth/erasure.ts": "tenants: erasing a tenant (its keys, its rows), live and again after a restore",
  "src/auth/jwt.ts": "keys: the JWT key ring",
  "src/auth/throttle.ts": "login counters, before any tenant is known",
  "src/auth/authenticate.ts":
    "finding which tenant a presented token belongs to (credential lookup), before any scope exists",
  "src/auth/sessions.ts": "login and refresh: the credential lookup and the throttle, before any scope exists",
  "src/auth/password-change.ts": "redeeming a reset token: the credential lookup, before any scope exists",
  "src/auth/actor-names.ts": "audit reads name actors of any log, the platform's included",
  "src/graph/erasure.ts": "erasing again after a restore (backup/restore.ts), for every tenant the journal names",
};
const importsPlatformDatabase = (graph: ImportGraph): string[] =>
  edgesOutside(
    graph,
    (file) => !PLATFORM_FOLDERS(file) && !(file in PLATFORM_FILES),
    (target) => target !== "src/db/db.ts",
  );

const at = (path: string, text: string): SourceFile => ({ path, text });

describe("the import picture", () => {
  it("has no cycle between files, type imports included", () => {
    expect(srcGraph.size).toBe(src.length);
    expect(
      fileCycles(srcGraph),
      "import cycles (break each by moving the shared type or function to the file both can import)",
    ).toEqual([]);
    expectGraphCheck(
      fileCycles,
      [
        [at("src/a/x.ts", 'import type { Y } from "./y.js";'), at("src/a/y.ts", 'import { x } from "./x.js";')],
        [
          at("src/a/x.ts", 'export { y } from "../b/y.js";'),
          at("src/b/y.ts", 'import { z } from "../c/z.js";'),
          at("src/c/z.ts", 'const x = await import("../a/x.js");'),
        ],
      ],
      [
        [
          at("src/a/x.ts", 'import type { Y } from "./y.js";'),
          at("src/a/y.ts", 'import { z } from "../z.js";'),
          at("src/z.ts", 'import { readFile } from "node:fs";'),
        ],
      ],
    );
  });

  it("has no cycle between folders: each folder sits on a layer below the folders that import it", () => {
    expect(folderCycles(srcGraph), "folder cycles, each with one file import per arrow").toEqual([]);
    expectGraphCheck(
      folderCycles,
      [
        [
          at("src/db/db.ts", 'import type { AuditSealer } from "../audit/seal.js";'),
          at("src/audit/seal.ts", 'import type { AuditRow } from "../db/repositories/audit-log.js";'),
          at("src/db/repositories/audit-log.ts", ""),
        ],
        [
          at("src/auth/a.ts", 'import { p } from "../graph/p.js";'),
          at("src/graph/p.ts", 'import type { Principal } from "../auth/principal.js";'),
          at("src/auth/principal.ts", ""),
        ],
      ],
      [
        [
          at("src/graph/p.ts", 'import type { Principal } from "../auth/principal.js";'),
          at("src/auth/principal.ts", 'import type { Role } from "../vocabulary/roles.js";'),
          at("src/vocabulary/roles.ts", ""),
        ],
      ],
    );
  });

  it("db and crypto import nothing above them: only their own files, the vocabulary, the error kinds and native addons (db also crypto, crypto also the address parser)", () => {
    expect(edgesOutside(srcGraph, under("src/db"), DB_MAY_IMPORT), "imports from src/db up into other folders").toEqual(
      [],
    );
    expect(
      edgesOutside(srcGraph, under("src/crypto"), CRYPTO_MAY_IMPORT),
      "imports from src/crypto up into other folders",
    ).toEqual([]);
    expect(
      edgesOutside(srcGraph, FLOOR, FLOOR),
      "imports from src/vocabulary or src/errors.ts into the project",
    ).toEqual([]);
    const upward = (graph: ImportGraph): string[] => [
      ...edgesOutside(graph, under("src/db"), DB_MAY_IMPORT),
      ...edgesOutside(graph, under("src/crypto"), CRYPTO_MAY_IMPORT),
      ...edgesOutside(graph, FLOOR, FLOOR),
    ];
    expectGraphCheck(
      upward,
      [
        [
          at("src/db/repositories/users.ts", 'import type { AppDeps } from "../../server/deps.js";'),
          at("src/server/deps.ts", ""),
        ],
        [
          at("src/crypto/resolvers/pkcs11.ts", 'import type { Config } from "../../config.js";'),
          at("src/config.ts", ""),
        ],
        [at("src/db/db.ts", 'import type { AuditSealer } from "../audit/seal.js";'), at("src/audit/seal.ts", "")],
        [
          at("src/vocabulary/events.ts", 'import type { Principal } from "../auth/principal.js";'),
          at("src/auth/principal.ts", ""),
        ],
      ],
      [
        [
          at("src/db/db.ts", 'import type { Role } from "../vocabulary/roles.js";'),
          at("src/vocabulary/roles.ts", ""),
          at("src/db/keystore.ts", 'import { MasterKeyRetiredError } from "../crypto/errors.js";'),
          at("src/crypto/errors.ts", 'import type { UnavailableKind } from "../errors.js";'),
          at("src/errors.ts", ""),
        ],
      ],
    );
  });

  it("no domain module imports the composition root, the CLI or the server: they receive what they need", () => {
    const domain = (path: string): boolean => !ABOVE_DOMAIN(path);
    expect(
      edgesOutside(srcGraph, domain, (t) => !ABOVE_DOMAIN(t)),
      "imports from domain code up into src/services.ts, src/main.ts, src/cli or src/server",
    ).toEqual([]);
    const upward = (graph: ImportGraph): string[] => edgesOutside(graph, domain, (t) => !ABOVE_DOMAIN(t));
    expectGraphCheck(
      upward,
      [
        [at("src/backup/restore.ts", 'import { openServices } from "../services.js";'), at("src/services.ts", "")],
        [at("src/jobs/jobs.ts", 'import type { Services } from "../services.js";'), at("src/services.ts", "")],
        [
          at("src/jobs/tls-expiry.ts", 'import type { ServedCertificate } from "../server/served-certificate.js";'),
          at("src/server/served-certificate.ts", ""),
        ],
      ],
      [
        [
          at("src/cli/backup.ts", 'import { openServices } from "../services.js";'),
          at("src/services.ts", 'import { restore } from "./backup/restore.js";'),
          at("src/backup/restore.ts", ""),
        ],
      ],
    );
  });

  it("src/server imports neither src/crypto nor src/db: key and storage failures reach it as domain errors", () => {
    const reachesBelow = (graph: ImportGraph): string[] =>
      edgesOutside(graph, under("src/server"), (t) => !under("src/crypto", "src/db")(t));
    expect(reachesBelow(srcGraph), "imports from src/server into src/crypto or src/db").toEqual([]);
    expectGraphCheck(
      reachesBelow,
      [
        [
          at("src/server/app.ts", 'import { isKeyUnavailable } from "../crypto/errors.js";'),
          at("src/crypto/errors.ts", ""),
        ],
        [
          at("src/server/serve-record.ts", 'import { dataDirLocked } from "../db/data-dir-lock.js";'),
          at("src/db/data-dir-lock.ts", ""),
        ],
        [
          at("src/server/routes/keys.ts", 'import type { TenantDb } from "../../db/tenant-db.js";'),
          at("src/db/tenant-db.ts", ""),
        ],
        [at("src/server/routes/audit.ts", 'import { PLATFORM_LOG } from "../../db/db.js";'), at("src/db/db.ts", "")],
        [
          at("src/server/middleware/require-scope.ts", 'import type { Database } from "../../db/db.js";'),
          at("src/db/db.ts", ""),
        ],
      ],
      [
        [
          at("src/server/app.ts", 'import { DomainError } from "../errors.js";'),
          at("src/errors.ts", ""),
          at("src/server/deps.ts", 'import type { Services } from "../services.js";'),
          at("src/services.ts", 'import { Database } from "./db/db.js";'),
          at("src/db/db.ts", ""),
        ],
      ],
    );
  });

  it("only platform modules import the platform database: server, middleware and every domain folder reach tenant data through a door", () => {
    expect(importsPlatformDatabase(srcGraph), "imports of src/db/db.ts outside the platform modules").toEqual([]);
    // Every named file still needs it (a stale name would let a later import in unseen).
    expect(
      Object.keys(PLATFORM_FILES).filter((file) => !(srcGraph.get(file) ?? []).includes("src/db/db.ts")),
      "named platform files that no longer import src/db/db.ts",
    ).toEqual([]);
    expectGraphCheck(
      importsPlatformDatabase,
      [
        [at("src/graph/nodes.ts", 'import type { Database } from "../db/db.js";'), at("src/db/db.ts", "")],
        [at("src/secrets/secrets.ts", 'import { PLATFORM_LOG } from "../db/db.js";'), at("src/db/db.ts", "")],
        [at("src/server/app.ts", 'import type { Database } from "../db/db.js";'), at("src/db/db.ts", "")],
        [
          at("src/server/middleware/require-scope.ts", 'import type { Database } from "../../db/db.js";'),
          at("src/db/db.ts", ""),
        ],
        [at("src/notify/notifications.ts", 'export type { Database } from "../db/db.js";'), at("src/db/db.ts", "")],
      ],
      [
        [
          at("src/graph/nodes.ts", 'import type { TenantDb } from "../db/tenant-db.js";'),
          at("src/db/tenant-db.ts", ""),
        ],
        [at("src/license/license.ts", 'import type { Database } from "../db/db.js";'), at("src/db/db.ts", "")],
        [at("src/auth/setup-token.ts", 'import type { Database } from "../db/db.js";'), at("src/db/db.ts", "")],
      ],
    );
  });
});
