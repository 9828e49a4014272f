/**
 * The rules of the house (DESIGN.md), checked on the sources so that they hold tomorrow too:
 * only src/db touches SQLite, only src/egress.ts reaches other hosts, only src/config.ts reads
 * the environment, only src/auth mints tenant scopes. Each rule's check is also shown to catch
 * a violation, so none of these can pass by matching nothing.
 */
import { describe, expect, it } from "vitest";
import { importedModules, namedImportsFrom, sourceFiles, type SourceFile } from "../source-files.js";

const src = sourceFiles("src");

function offenders(files: readonly SourceFile[], isOffence: (file: SourceFile) => boolean, allowed: (path: string) => boolean): string[] {
  return files.filter((f) => !allowed(f.path) && isOffence(f)).map((f) => f.path);
}

const importsSqlite = (f: SourceFile): boolean => importedModules(f).includes("better-sqlite3");

const NETWORK_MODULES = ["node:http", "node:https", "node:net", "node:tls", "node:dgram", "node:http2", "http", "https", "net", "tls", "dgram", "http2", "undici"];
const importsNetwork = (f: SourceFile): boolean => importedModules(f).some((m) => NETWORK_MODULES.includes(m));
const callsFetch = (f: SourceFile): boolean => /(^|[^.\w])fetch\s*\(|globalThis\.fetch|\bWebSocket\b|\bEventSource\b/.test(f.text);
/** A listener may take only what accepts connections (createServer, server and address types) from the network modules. */
const LISTENING_NAMES = ["createServer", "Server", "AddressInfo"];
const opensConnection = (f: SourceFile): boolean =>
  NETWORK_MODULES.some((m) => namedImportsFrom(f, m).some((name) => !LISTENING_NAMES.includes(name)));

/** Files that accept connections (the HTTPS and redirect listeners) and the egress module itself. */
const LISTENERS = ["src/server/listen.ts"];
/** Modules that need node:net only for address parsing (isIP), not for sockets. */
const ADDRESS_PARSING = ["src/egress.ts", "src/net-address.ts"];

describe("rules of the house", () => {
  it("reads real sources", () => {
    expect(src.length).toBeGreaterThan(20);
    expect(src.some((f) => f.path === "src/db/db.ts")).toBe(true);
  });

  it("only src/db holds the better-sqlite3 handle", () => {
    expect(offenders(src, importsSqlite, (p) => p.startsWith("src/db/"))).toEqual([]);
    expect(importsSqlite({ path: "src/x.ts", text: 'import Database from "better-sqlite3";' })).toBe(true);
  });

  it("only src/egress.ts opens outbound connections; listeners only listen", () => {
    const allowed = (p: string): boolean => p === "src/egress.ts" || LISTENERS.includes(p);
    expect(offenders(src, importsNetwork, (p) => allowed(p) || ADDRESS_PARSING.includes(p))).toEqual([]);
    expect(offenders(src, callsFetch, (p) => p === "src/egress.ts")).toEqual([]);
    expect(offenders(src.filter((f) => LISTENERS.includes(f.path)), opensConnection, () => false)).toEqual([]);
    const egressImports = importedModules(src.find((f) => f.path === "src/egress.ts") as SourceFile);
    expect(egressImports.filter((m) => NETWORK_MODULES.includes(m) && m !== "node:net")).toEqual([]);
    // The checks catch what they are for:
    expect(importsNetwork({ path: "src/x.ts", text: 'import { request } from "node:https";' })).toBe(true);
    expect(importsNetwork({ path: "src/x.ts", text: 'const net = await import("node:net");' })).toBe(true);
    expect(callsFetch({ path: "src/x.ts", text: "const r = await fetch(url);" })).toBe(true);
    expect(opensConnection({ path: "src/x.ts", text: 'import { request } from "node:https";' })).toBe(true);
    expect(opensConnection({ path: "src/x.ts", text: 'import * as https from "node:https";' })).toBe(true);
    expect(opensConnection({ path: "src/x.ts", text: 'import { createServer } from "node:https";' })).toBe(false);
  });

  it("only src/config.ts reads the environment", () => {
    const readsEnv = (f: SourceFile): boolean => /\bprocess\.env\b/.test(f.text);
    expect(offenders(src, readsEnv, (p) => p === "src/config.ts")).toEqual([]);
  });

  it("only src/auth mints tenant scopes", () => {
    const mints = (f: SourceFile): boolean => /\bmintTenantScope\s*\(/.test(f.text);
    expect(offenders(src, mints, (p) => p.startsWith("src/auth/") || p === "src/db/tenant-scope.ts")).toEqual([]);
  });

  it("nothing in src writes to the console: logs go through pino with redaction", () => {
    const usesConsole = (f: SourceFile): boolean => /\bconsole\.(log|info|warn|debug|trace)\s*\(/.test(f.text);
    expect(offenders(src, usesConsole, () => false)).toEqual([]);
  });

  it("bundles for Node SEA: no top-level await, no import.meta, no __dirname lookups in src", () => {
    const runtimePaths = (f: SourceFile): boolean => /\bimport\.meta\b|\b__dirname\b|\b__filename\b/.test(f.text);
    expect(offenders(src, runtimePaths, () => false)).toEqual([]);
  });

  it("routes never import the database or crypto directly: route → domain → db/crypto", () => {
    const routes = src.filter((f) => f.path.startsWith("src/server/routes/"));
    const reachesDown = (f: SourceFile): boolean => importedModules(f).some((m) => /\/db\/(?!db\.js$)|\/crypto\//.test(m));
    expect(offenders(routes, reachesDown, () => false)).toEqual([]);
  });
});
