/**
 * src/server never receives the platform database (issue 14, the one door): what the routes are
 * given (AppDeps) reaches tenant data only through the door, for a scope authentication minted,
 * and reaches the rest through parts that hold the database inside them (probes, the audit trail,
 * key operations, account administration and password flows, bound in src/services.ts). Checked on
 * the type, by the type checker (`npm test` runs `tsc --noEmit` over test/ too): DatabasePaths
 * lists every property path of AppDeps whose value is the database, and there must be none. Checked at run time
 * too, on the object `vecto serve` hands to buildApp (servedParts of real services), and on the
 * sources: no server file takes a `db` out of what it is given, and every buildApp call in src is
 * given servedParts, never the whole composition root.
 */
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from "vitest";
import { Database } from "../../../src/db/db.js";
import type { TenantDoor } from "../../../src/db/tenant-db.js";
import { servedParts, type AppDeps } from "../../../src/server/deps.js";
import type { Services } from "../../../src/services.js";
import { identityFixture, type Fixture } from "../../identity-fixture.js";
import { sourceFiles, type SourceFile } from "../../source-files.js";

type Walked<V> = NonNullable<V>;

/**
 * The paths (a.b.c, down to `Depth` levels) of T's properties whose value is the platform
 * database. Functions are not walked (a closure over the database is the point); a class's
 * private fields are not visible to the type, so a service that holds the database privately
 * does not hand it out.
 */
export type DatabasePaths<T, Prefix extends string = "", Depth extends unknown[] = []> = Depth["length"] extends 4
  ? never
  : {
      [K in keyof T & string]-?: Walked<T[K]> extends Database
        ? `${Prefix}${K}`
        : Walked<T[K]> extends (...args: never[]) => unknown
          ? never
          : Walked<T[K]> extends object
            ? DatabasePaths<Walked<T[K]>, `${Prefix}${K}.`, [...Depth, unknown]>
            : never;
    }[keyof T & string];

/** The run-time twin of DatabasePaths: walks plain objects (not class instances, not functions) for the database. */
function databasePaths(value: object, prefix = ""): string[] {
  return Object.entries(value).flatMap(([key, inner]: [string, unknown]) => {
    if (inner instanceof Database) return [`${prefix}${key}`];
    if (typeof inner !== "object" || inner === null || Object.getPrototypeOf(inner) !== Object.prototype) return [];
    return databasePaths(inner, `${prefix}${key}.`);
  });
}

/** Where a server source takes a `db` out of what it was given (`deps.identity.accounts.db`, `const { db } = …`). */
const takesDb = (f: SourceFile): string[] =>
  [...f.text.matchAll(/\.db\b|\{[^}]*\bdb\b[^}]*\}\s*=/g)].map((m) => `${f.path}: ${m[0]}`);

/** buildApp calls in a source that are not given servedParts(...) first (the definition aside). */
const wholeRootToApp = (f: SourceFile): string[] =>
  [...f.text.matchAll(/\bbuildApp\((?!\{\s*\.\.\.servedParts\()[^)]{0,60}/g)]
    .filter((m) => !/^buildApp\(deps: AppDeps/.test(m[0]))
    .map((m) => `${f.path}: ${m[0]}`);

describe("what src/server receives", () => {
  it("does not carry the platform database: AppDeps has no `db`, and no other path to it", () => {
    expectTypeOf<DatabasePaths<AppDeps>>().toEqualTypeOf<never>();
    expectTypeOf<AppDeps>().not.toHaveProperty("db");
  });

  it("the check finds the database wherever it is put, and passes the door", () => {
    expectTypeOf<DatabasePaths<Pick<Services, "db" | "door">>>().toEqualTypeOf<"db">();
    expectTypeOf<DatabasePaths<AppDeps & { readonly db: Database }>>().toEqualTypeOf<"db">();
    expectTypeOf<DatabasePaths<Pick<Services, "keyAdmin">>>().toEqualTypeOf<"keyAdmin.db">();
    expectTypeOf<
      DatabasePaths<{ readonly a: { readonly b?: { readonly platform: Database } } }>
    >().toEqualTypeOf<"a.b.platform">();
    expectTypeOf<DatabasePaths<{ readonly door: TenantDoor; readonly ping: () => Database }>>().toEqualTypeOf<never>();
  });

  describe("at run time", () => {
    let f: Fixture;
    beforeAll(async () => {
      f = await identityFixture();
    });
    afterAll(() => f.close());

    it("the served parts of real services do not hold the database either", () => {
      expect(databasePaths(servedParts(f.services))).toEqual([]);
      // The walk finds the database itself, at the top and deeper, and nothing in a door.
      expect(databasePaths({ ...servedParts(f.services), extra: { db: f.services.db } })).toEqual(["extra.db"]);
      expect(databasePaths({ keyAdmin: f.services.keyAdmin })).toEqual(["keyAdmin.db"]);
      expect(databasePaths({ ...f.services }).sort()).toContain("db");
      expect(databasePaths({ door: f.services.door, probes: f.services.probes })).toEqual([]);
    });
  });

  it("no server source takes a `db` out of what it is given", () => {
    expect(sourceFiles("src/server").flatMap(takesDb)).toEqual([]);
    const at = (text: string): SourceFile => ({ path: "src/server/routes/audit-integrity.ts", text });
    expect(takesDb(at("  const { db, crypto } = deps.identity.accounts;"))).toHaveLength(1);
    expect(takesDb(at("    (c) => c.json(inclusion(deps.keyAdmin.db, log, seq, size)),"))).toHaveLength(1);
    expect(takesDb(at("    (c) => c.json(deps.auditTrail.inclusion(log, query.seq, query.size)),"))).toEqual([]);
    expect(takesDb(at("  const { dbFile } = settings; // a tenantDbOf(deps, c) call"))).toEqual([]);
  });

  it("every buildApp in src is given servedParts(services), never the whole composition root", () => {
    expect(sourceFiles("src").flatMap(wholeRootToApp)).toEqual([]);
    const at = (text: string): SourceFile => ({ path: "src/cli/serve.ts", text });
    expect(wholeRootToApp(at("const app = buildApp({ ...services, log, bodyLimitBytes: 1 });"))).toHaveLength(1);
    expect(wholeRootToApp(at("const app = buildApp(services as AppDeps);"))).toHaveLength(1);
    expect(wholeRootToApp(at("const app = buildApp({ ...servedParts(services), log, bodyLimitBytes: 1 });"))).toEqual(
      [],
    );
    expect(
      wholeRootToApp(at("export function buildApp(deps: AppDeps, mounts: readonly RouteMount[] = []): Hono<AppEnv> {")),
    ).toEqual([]);
  });
});
