/**
 * Tenant isolation by behaviour (datasheet 4.1), the companion of tenancy.test.ts, which reads the
 * SQL text. Two tenants' data in a real SQLite file; tenant "beta" then calls every tenant-bound
 * read and write, of its TenantDb, of its TenantTx and of the repositories underneath, with
 * tenant "alpha"'s ids. Nothing of alpha may come back and nothing of alpha may change (every row
 * of alpha, compared before and after each call).
 *
 * The methods are enumerated from the classes, so a method added tomorrow fails this test until it
 * has its case here.
 */
import { createHmac, randomBytes } from "node:crypto";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HmacAuditSealer } from "../../../src/audit/seal.js";
import { Database, type PlatformTx } from "../../../src/db/db.js";
import { ENCRYPTED_COLUMNS } from "../../../src/db/encrypted-columns.js";
import { TenantDb, TenantTx } from "../../../src/db/tenant-db.js";
import { mintTenantScope } from "../../../src/db/tenant-scope.js";
import { tempDir } from "../../helpers.js";

const T0 = "2026-01-01T00:00:00.000Z";
const LATER = "2026-02-01T00:00:00.000Z";
const blob = (text: string): Uint8Array => new Uint8Array(Buffer.from(text));
const hash = (text: string): Uint8Array => new Uint8Array(createHmac("sha256", "isolation").update(text).digest());

/** The ids of one tenant's rows; every id carries the tenant's name, so a leak is visible in any result. */
function idsOf(t: string) {
  return {
    tenant: t,
    admin: `${t}-admin`,
    member: `${t}-member`,
    project: `${t}-project`,
    idea: `${t}-idea`,
    decision: `${t}-decision`,
    edge: `${t}-edge`,
    secretId: `${t}-secret-id`,
    secretName: `${t}-only-secret`,
    session: `${t}-session`,
    refresh: hash(`${t}-refresh`),
    reset: hash(`${t}-reset`),
    token: `${t}-token`,
    tokenHash: hash(`${t}-token`),
    emailLookup: hash(`${t}-admin@example.test`),
    term: hash(`${t}-term`),
    notification: "", // filled in after the audit row that triggers it is written
  };
}
type Ids = ReturnType<typeof idsOf>;

async function seed(db: Database, ids: Ids): Promise<void> {
  const user = (id: string, role: "tenant_admin" | "member", lookup: Uint8Array) => ({ id, kind: "human" as const, emailLookup: lookup, emailEnc: blob(`${id}-email`), nameEnc: blob(`${id}-name`), role, auditor: false, passwordHash: null, status: "active" as const, createdAt: T0, updatedAt: T0 });
  const node = (id: string, type: "idea" | "decision") => ({ id, projectId: ids.project, type, status: type === "idea" ? "open" : "proposed", reviewKind: null, verdict: null, titleEnc: blob(`${id}-title`), bodyEnc: blob(`${id}-body`), authorType: "human" as const, authorId: ids.admin, version: 1, createdAt: T0, updatedAt: T0, archivedAt: null });
  await db.write((tx) => tx.tenants.create({ id: ids.tenant, slug: ids.tenant, nameEnc: blob(`${ids.tenant}-name`), kind: "customer", status: "active", accessTokenTtlSeconds: 28_800, createdAt: T0 }));
  await db.forTenant(mintTenantScope(ids.tenant, { type: "system", id: "seed" })).write((tx) => {
    tx.insertUser(user(ids.admin, "tenant_admin", ids.emailLookup));
    tx.insertUser(user(ids.member, "member", hash(`${ids.member}@example.test`)));
    tx.insertProject({ id: ids.project, nameEnc: blob(`${ids.tenant}-project-name`), status: "active", createdBy: ids.admin, createdAt: T0, updatedAt: T0 });
    tx.putProjectMember({ projectId: ids.project, userId: ids.member, role: "editor", addedAt: T0 });
    tx.insertNode(node(ids.idea, "idea"), [ids.term]);
    tx.insertNode(node(ids.decision, "decision"), [ids.term]);
    tx.insertEdge({ id: ids.edge, projectId: ids.project, type: "originates_from", fromId: ids.decision, toId: ids.idea, createdBy: ids.admin, createdAt: T0 });
    tx.insertSecret({ id: ids.secretId, name: ids.secretName, valueEnc: blob("sealed"), descriptionEnc: blob("sealed"), version: 1, createdBy: ids.admin, createdAt: T0, rotatedBy: ids.admin, rotatedAt: T0 });
    tx.replacePasswordReset({ tokenHash: ids.reset, userId: ids.member, createdBy: ids.admin, createdAt: T0, expiresAt: LATER });
    tx.insertPersonalToken({ id: ids.token, userId: ids.member, name: "ci", tokenHash: ids.tokenHash, scopes: ["graph:read"], projectId: null, createdAt: T0, expiresAt: LATER, lastUsedAt: null, revokedAt: null });
  });
  await db.write((tx) => {
    tx.sessions.insert({ id: ids.session, tenantId: ids.tenant, userId: ids.member, createdAt: T0, expiresAt: LATER, lastUsedAt: T0, revokedAt: null, revokeReason: null, client: "test" });
    tx.sessions.insertRefreshToken({ tokenHash: ids.refresh, tenantId: ids.tenant, sessionId: ids.session, createdAt: T0, expiresAt: LATER, usedAt: null });
  });
  db.audit({ event: "auth.refresh_reused", sensitivity: "security", severity: "critical", tenantId: ids.tenant, actor: { type: "human", id: ids.member }, payload: {}, notify: { userIds: [ids.member], message: "m" } });
  ids.notification = db.notifications.forUser(ids.tenant, ids.member, false, 1)[0]?.id ?? "";
  db.saveCheckpoint({ tenantId: ids.tenant, size: 1, rootHash: hash(`${ids.tenant}-root`), frontier: hash(`${ids.tenant}-root`), note: `${ids.tenant} checkpoint`, createdAt: T0 });
}

/** Rows as sorted text (some tables are WITHOUT ROWID: no order to ask SQLite for). */
function sortedRows(rows: unknown[]): string[] {
  return rows.map((row) => JSON.stringify(row)).sort();
}

const total = (counts: ReadonlyMap<number, number>): number => [...counts.values()].reduce((sum, n) => sum + n, 0);

/** Methods declared on a class (not inherited, not the constructor). */
function methodsOf(proto: object): string[] {
  return Object.getOwnPropertyNames(proto).filter((name) => name !== "constructor" && typeof (proto as Record<string, unknown>)[name] === "function");
}

/** Methods of a repository whose first parameter is the tenant id: the tenant-bound ones. */
function tenantBoundMethods(repo: object): string[] {
  const proto = Object.getPrototypeOf(repo) as Record<string, (...args: unknown[]) => unknown>;
  return methodsOf(proto).filter((name) => /^\s*\w+\s*\(\s*tenantId\b/.test(String(proto[name])));
}

/**
 * One call by beta with alpha's ids. `expected`, when given, is the exact result (for results
 * that carry no id: counts, booleans); otherwise the result must mention nothing of alpha.
 * `inserts`: the call adds a row of beta's (or is refused); alpha's rows must still be untouched.
 */
interface Case {
  readonly run: () => unknown;
  readonly expected?: unknown;
  readonly inserts?: boolean;
}

describe("tenant isolation, by behaviour", () => {
  const dir = tempDir("vecto-isolation-");
  const file = join(dir.path, "vecto.db");
  const db = Database.open(file);
  const raw = new BetterSqlite3(file, { readonly: true });
  const a = idsOf("alpha");
  const b = idsOf("beta");
  let beta: TenantDb;

  beforeAll(async () => {
    const key = randomBytes(32);
    db.setAuditSealer(new HmacAuditSealer({ mac: (data) => createHmac("sha256", key).update(data).digest() }));
    await seed(db, a);
    await seed(db, b);
    // Alpha alone has a second audit event and a throttle counter: a count or a clear that crossed over would show.
    db.audit({ event: "user.updated", sensitivity: "normal", severity: "info", tenantId: a.tenant, actor: { type: "human", id: a.admin }, payload: { userId: a.member } });
    await db.write((tx) => tx.loginThrottle.put({ key: `acct:${a.tenant}:x`, failures: 3, lastFailure: T0, blockedUntil: null }));
    beta = db.forTenant(mintTenantScope(b.tenant, { type: "human", id: b.admin }));
  });
  afterAll(() => {
    raw.close();
    db.close();
    dir.cleanup();
  });

  /** Every row of every table, as text: what "nothing changed" is checked against. */
  function everything(): string {
    const tables = raw.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all();
    return JSON.stringify(tables.map(({ name }) => [name, sortedRows(raw.prepare(`SELECT * FROM "${name}"`).all())]));
  }

  /** Every row that belongs to alpha (by tenant id), in every table that has one. */
  function alphaRows(): string {
    const tables = raw.prepare<[], { name: string }>("SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'tenant_id') ORDER BY m.name").all();
    return JSON.stringify(tables.map(({ name }) => [name, sortedRows(raw.prepare(`SELECT * FROM "${name}" WHERE tenant_id = ?`).all(a.tenant))]));
  }

  /** Runs one case and checks it; returns a description of what went wrong, or undefined. */
  async function check(label: string, c: Case): Promise<string | undefined> {
    const before = everything();
    const alphaBefore = alphaRows();
    let result: unknown;
    let threw = false;
    try {
      result = await c.run();
    } catch {
      threw = true; // a refusal (a foreign key, a constraint) changes nothing: checked below like any other outcome
    }
    if (!c.inserts && everything() !== before) return `${label}: changed the database`;
    if (alphaRows() !== alphaBefore) return `${label}: changed a row of alpha`;
    if (threw) return c.inserts ? undefined : `${label}: threw`;
    if ("expected" in c) return JSON.stringify(result) === JSON.stringify(c.expected) ? undefined : `${label}: returned ${JSON.stringify(result)}, expected ${JSON.stringify(c.expected)}`;
    return JSON.stringify(result ?? null).includes("alpha") ? `${label}: returned alpha's data ${JSON.stringify(result)}` : undefined;
  }

  const inTx = <T>(fn: (tx: TenantTx) => T) => (): Promise<T> => beta.write(fn);
  const inPlatformTx = <T>(fn: (tx: PlatformTx) => T) => (): Promise<T> => db.write(fn);
  const filter = { includeArchived: true, limit: 100 };
  const allFilters = { includeArchived: true, limit: 100, terms: [a.term] };

  /** TenantDb: beta's reads, with alpha's ids. `write` is the path the TenantTx cases below go through. */
  const tenantDbCases = (): Record<string, Case> => ({
    tenant: { run: () => beta.tenant() },
    user: { run: () => beta.user(a.admin) },
    listUsers: { run: () => beta.listUsers(undefined, 100) },
    activeUsersWithRole: { run: () => beta.activeUsersWithRole("tenant_admin"), expected: 1 },
    personalTokensOf: { run: () => beta.personalTokensOf(a.member) },
    node: { run: () => beta.node(a.idea) },
    nodes: { run: () => beta.nodes([a.idea, a.decision]) },
    listNodes: { run: () => beta.listNodes(a.project, allFilters) },
    edge: { run: () => beta.edge(a.edge) },
    edgesTouching: { run: () => beta.edgesTouching([a.idea, a.decision]) },
    listEdges: { run: () => beta.listEdges(a.project, undefined, 100) },
    // The start node is echoed back at depth 0 (the caller named it); nothing reached from it.
    trace: { run: () => beta.trace(a.decision, ["originates_from"], ["originates_from"], 5, 100), expected: [{ nodeId: a.decision, depth: 0 }] },
    project: { run: () => beta.project(a.project) },
    listProjects: { run: () => beta.listProjects(undefined, 100) },
    listProjectsOf: { run: () => beta.listProjectsOf(a.member, undefined, 100) },
    membership: { run: () => beta.membership(a.project, a.member) },
    projectMembers: { run: () => beta.projectMembers(a.project) },
    secret: { run: () => beta.secret(a.secretName) },
    listSecrets: { run: () => beta.listSecrets(undefined, 100) },
    write: { run: inTx((tx) => tx.tenantId), expected: b.tenant },
    erase: { run: () => beta.erase((tx) => tx.eraseNode(a.idea)) },
  });

  /** TenantTx: beta's changes (and reads inside a transaction), aimed at alpha's rows. */
  const tenantTxCases = (): Record<string, Case> => ({
    insertUser: { run: inTx((tx) => tx.insertUser({ ...userLike(a.member), emailLookup: a.emailLookup })), inserts: true },
    updateUser: { run: inTx((tx) => tx.updateUser(a.member, { role: "viewer", status: "disabled" })), expected: false },
    pseudonymiseUser: { run: inTx((tx) => tx.pseudonymiseUser(a.member, { emailLookup: hash("x"), emailEnc: blob("x"), nameEnc: blob("x") })), expected: false },
    deleteUser: { run: inTx((tx) => tx.deleteUser(a.member)), expected: false },
    insertNode: { run: inTx((tx) => tx.insertNode({ ...nodeLike(`${b.tenant}-planted`), projectId: a.project }, [a.term])), inserts: true },
    updateNode: { run: inTx((tx) => tx.updateNode(a.idea, 1, { titleEnc: blob("x"), archivedAt: LATER }, [a.term])) },
    insertEdge: { run: inTx((tx) => tx.insertEdge({ id: `${b.tenant}-planted-edge`, projectId: a.project, type: "originates_from", fromId: a.idea, toId: a.decision, createdBy: b.admin, createdAt: T0 })), inserts: true },
    deleteEdge: { run: inTx((tx) => tx.deleteEdge(a.edge)), expected: false },
    edgePathExists: { run: inTx((tx) => tx.edgePathExists("originates_from", a.decision, a.idea, 5)), expected: false },
    findEdge: { run: inTx((tx) => tx.findEdge("originates_from", a.decision, a.idea)) },
    node: { run: inTx((tx) => tx.node(a.idea)) },
    insertPersonalToken: { run: inTx((tx) => tx.insertPersonalToken({ id: `${b.tenant}-planted-token`, userId: a.member, name: "x", tokenHash: hash("planted"), scopes: ["graph:read"], projectId: a.project, createdAt: T0, expiresAt: LATER, lastUsedAt: null, revokedAt: null })), inserts: true },
    revokePersonalToken: { run: inTx((tx) => tx.revokePersonalToken(a.member, a.token)), expected: false },
    insertProject: { run: inTx((tx) => tx.insertProject({ id: `${b.tenant}-planted-project`, nameEnc: blob("x"), status: "active", createdBy: a.admin, createdAt: T0, updatedAt: T0 })), inserts: true },
    updateProject: { run: inTx((tx) => tx.updateProject(a.project, { nameEnc: blob("x"), status: "archived" })), expected: false },
    putProjectMember: { run: inTx((tx) => tx.putProjectMember({ projectId: a.project, userId: a.member, role: "viewer", addedAt: LATER })), inserts: true },
    removeProjectMember: { run: inTx((tx) => tx.removeProjectMember(a.project, a.member)), expected: false },
    secret: { run: inTx((tx) => tx.secret(a.secretName)) },
    insertSecret: { run: inTx((tx) => tx.insertSecret({ id: `${b.tenant}-planted-secret`, name: a.secretName, valueEnc: blob("x"), descriptionEnc: blob("x"), version: 1, createdBy: b.admin, createdAt: T0, rotatedBy: b.admin, rotatedAt: T0 })), inserts: true },
    rotateSecret: { run: inTx((tx) => tx.rotateSecret(a.secretId, undefined, { valueEnc: blob("x"), rotatedBy: b.admin })) },
    deleteSecret: { run: inTx((tx) => tx.deleteSecret(a.secretName)) },
    revokeUserCredentials: { run: inTx((tx) => tx.revokeUserCredentials(a.member, "beta says so")) },
    project: { run: inTx((tx) => tx.project(a.project)) },
    replacePasswordReset: { run: inTx((tx) => tx.replacePasswordReset({ tokenHash: hash("beta-planted-reset"), userId: a.member, createdBy: b.admin, createdAt: LATER, expiresAt: LATER })), inserts: true },
    eraseNode: { run: inTx((tx) => tx.eraseNode(a.idea)) },
    eraseProject: { run: inTx((tx) => tx.eraseProject(a.project)) },
  });

  /** The repositories' tenant-bound methods, called directly with beta's tenant id. */
  const repositoryCases = (): Record<string, Case> => ({
    "users.get": { run: inPlatformTx((tx) => tx.users.get(b.tenant, a.admin)) },
    "users.findByEmail": { run: inPlatformTx((tx) => tx.users.findByEmail(b.tenant, a.emailLookup)) },
    "users.list": { run: inPlatformTx((tx) => tx.users.list(b.tenant, undefined, 100)) },
    "users.countByRole": { run: inPlatformTx((tx) => tx.users.countByRole(b.tenant, "member")), expected: 1 },
    "users.update": { run: inPlatformTx((tx) => tx.users.update(b.tenant, a.member, { role: "viewer" }, LATER)), expected: false },
    "users.pseudonymise": { run: inPlatformTx((tx) => tx.users.pseudonymise(b.tenant, a.member, { emailLookup: hash("y"), emailEnc: blob("y"), nameEnc: blob("y") }, LATER)), expected: false },
    "users.delete": { run: inPlatformTx((tx) => tx.users.delete(b.tenant, a.member)), expected: false },
    "projects.get": { run: inPlatformTx((tx) => tx.projects.get(b.tenant, a.project)) },
    "projects.list": { run: inPlatformTx((tx) => tx.projects.list(b.tenant, undefined, 100)) },
    "projects.listForMember": { run: inPlatformTx((tx) => tx.projects.listForMember(b.tenant, a.member, undefined, 100)) },
    "projects.update": { run: inPlatformTx((tx) => tx.projects.update(b.tenant, a.project, { status: "archived" }, LATER)), expected: false },
    "projects.membership": { run: inPlatformTx((tx) => tx.projects.membership(b.tenant, a.project, a.member)) },
    "projects.members": { run: inPlatformTx((tx) => tx.projects.members(b.tenant, a.project)) },
    "projects.putMember": { run: inPlatformTx((tx) => tx.projects.putMember(b.tenant, { projectId: a.project, userId: a.member, role: "editor", addedAt: LATER })), inserts: true },
    "projects.removeMember": { run: inPlatformTx((tx) => tx.projects.removeMember(b.tenant, a.project, a.member)), expected: false },
    "nodes.get": { run: inPlatformTx((tx) => tx.nodes.get(b.tenant, a.idea)) },
    "nodes.getMany": { run: inPlatformTx((tx) => tx.nodes.getMany(b.tenant, [a.idea, a.decision])) },
    "nodes.list": { run: inPlatformTx((tx) => tx.nodes.list(b.tenant, a.project, filter)) },
    "nodes.update": { run: inPlatformTx((tx) => tx.nodes.update(b.tenant, a.idea, 1, { status: "adopted" }, LATER)) },
    "nodes.replaceTerms": { run: inPlatformTx((tx) => tx.nodes.replaceTerms(b.tenant, a.idea, [])) },
    "edges.get": { run: inPlatformTx((tx) => tx.edges.get(b.tenant, a.edge)) },
    "edges.find": { run: inPlatformTx((tx) => tx.edges.find(b.tenant, "originates_from", a.decision, a.idea)) },
    "edges.touching": { run: inPlatformTx((tx) => tx.edges.touching(b.tenant, [a.idea, a.decision])) },
    "edges.listForProject": { run: inPlatformTx((tx) => tx.edges.listForProject(b.tenant, a.project, undefined, 100)) },
    "edges.reachable": { run: inPlatformTx((tx) => tx.edges.reachable(b.tenant, "originates_from", a.decision, a.idea, 5)), expected: false },
    "edges.trace": { run: inPlatformTx((tx) => tx.edges.trace(b.tenant, a.idea, ["originates_from"], ["originates_from"], 5, 100)), expected: [{ nodeId: a.idea, depth: 0 }] },
    "edges.delete": { run: inPlatformTx((tx) => tx.edges.delete(b.tenant, a.edge)), expected: false },
    "edges.deleteTouching": { run: inPlatformTx((tx) => tx.edges.deleteTouching(b.tenant, a.idea)), expected: 0 },
    "edges.deleteForProject": { run: inPlatformTx((tx) => tx.edges.deleteForProject(b.tenant, a.project)), expected: 0 },
    "nodes.erase": { run: inPlatformTx((tx) => tx.nodes.erase(b.tenant, a.idea)), expected: false },
    "nodes.eraseProjectNodes": { run: inPlatformTx((tx) => tx.nodes.eraseProjectNodes(b.tenant, a.project)), expected: 0 },
    "projects.erase": { run: inPlatformTx((tx) => tx.projects.erase(b.tenant, a.project)), expected: false },
    "secrets.get": { run: inPlatformTx((tx) => tx.secrets.get(b.tenant, a.secretName)) },
    "secrets.list": { run: inPlatformTx((tx) => tx.secrets.list(b.tenant, undefined, 100)) },
    "secrets.rotate": { run: inPlatformTx((tx) => tx.secrets.rotate(b.tenant, a.secretId, 1, { valueEnc: blob("y"), rotatedBy: b.admin }, LATER)) },
    "secrets.delete": { run: inPlatformTx((tx) => tx.secrets.delete(b.tenant, a.secretName)) },
    "sessions.get": { run: inPlatformTx((tx) => tx.sessions.get(b.tenant, a.session)) },
    "sessions.listForUser": { run: inPlatformTx((tx) => tx.sessions.listForUser(b.tenant, a.member)) },
    "sessions.touch": { run: inPlatformTx((tx) => tx.sessions.touch(b.tenant, a.session, LATER)) },
    "sessions.revoke": { run: inPlatformTx((tx) => tx.sessions.revoke(b.tenant, a.session, "x", LATER)), expected: false },
    "sessions.revokeAllForUser": { run: inPlatformTx((tx) => tx.sessions.revokeAllForUser(b.tenant, a.member, "x", LATER)), expected: 0 },
    "sessions.revokeOthersForUser": { run: inPlatformTx((tx) => tx.sessions.revokeOthersForUser(b.tenant, a.member, "none", "x", LATER)), expected: 0 },
    "passwordResets.consume": { run: inPlatformTx((tx) => tx.passwordResets.consume(b.tenant, a.reset, T0)), expected: false },
    // Deletes beta's own resets (a change `inserts` allows); alpha's must stay.
    "passwordResets.deleteForTenant": { run: inPlatformTx((tx) => tx.passwordResets.deleteForTenant(b.tenant)), inserts: true },
    "passwordResets.deleteForUser": { run: inPlatformTx((tx) => tx.passwordResets.deleteForUser(b.tenant, a.member)), expected: 0 },
    "sessions.spendRefreshToken": { run: inPlatformTx((tx) => tx.sessions.spendRefreshToken(b.tenant, a.refresh, LATER)), expected: false },
    "personalTokens.get": { run: inPlatformTx((tx) => tx.personalTokens.get(b.tenant, a.token)) },
    "personalTokens.listForUser": { run: inPlatformTx((tx) => tx.personalTokens.listForUser(b.tenant, a.member)) },
    "personalTokens.touch": { run: inPlatformTx((tx) => tx.personalTokens.touch(b.tenant, a.token, LATER)) },
    "personalTokens.revoke": { run: inPlatformTx((tx) => tx.personalTokens.revoke(b.tenant, a.member, a.token, LATER)), expected: false },
    "personalTokens.revokeAllForUser": { run: inPlatformTx((tx) => tx.personalTokens.revokeAllForUser(b.tenant, a.member, LATER)), expected: 0 },
    "audit.nextSeq": { run: inPlatformTx((tx) => tx.audit.nextSeq(b.tenant)), expected: 1 },
    "audit.size": { run: inPlatformTx((tx) => tx.audit.size(b.tenant)), expected: 1 },
    "audit.page": { run: inPlatformTx((tx) => tx.audit.page(b.tenant, 0, 100)) },
    "audit.filtered": { run: inPlatformTx((tx) => tx.audit.filtered(b.tenant, { afterSeq: -1, limit: 100 })) },
    "audit.leafHashes": { run: inPlatformTx((tx) => tx.audit.leafHashes(b.tenant, 0, 100).length), expected: 1 },
    "audit.latestCheckpoint": { run: inPlatformTx((tx) => tx.audit.latestCheckpoint(b.tenant)) },
    "audit.checkpoints": { run: inPlatformTx((tx) => tx.audit.checkpoints(b.tenant)) },
    "loginThrottle.clearTenant": { run: inPlatformTx((tx) => tx.loginThrottle.clearTenant(b.tenant)) },
    "notifications.forUser": { run: inPlatformTx((tx) => tx.notifications.forUser(b.tenant, a.member, false, 100)) },
    // Seeded alike, so beta has as many sealed values as alpha; a leak would add alpha's to beta's.
    "sealedFields.versionCounts": { run: inPlatformTx((tx) => total(tx.sealedFields.versionCounts(b.tenant))), expected: total(db.sealedFields.versionCounts(a.tenant)) },
    "sealedFields.notUnder": { run: inPlatformTx((tx) => ENCRYPTED_COLUMNS.flatMap((column) => tx.sealedFields.notUnder(b.tenant, column, 0xffff_ffff, "", 1000).map((r) => r.id))) },
    "sealedFields.replace": {
      run: inPlatformTx((tx) => ENCRYPTED_COLUMNS.flatMap((column) => db.sealedFields.notUnder(a.tenant, column, 0xffff_ffff, "", 1000).filter((row) => tx.sealedFields.replace(b.tenant, column, row.id, row.sealed, blob("x"))))),
      expected: [],
    },
    "notifications.markRead": { run: inPlatformTx((tx) => tx.notifications.markRead(b.tenant, a.member, a.notification, LATER)), expected: false },
  });

  function userLike(id: string) {
    return { id, kind: "human" as const, emailLookup: hash(id), emailEnc: blob("x"), nameEnc: blob("x"), role: "tenant_admin" as const, auditor: false, passwordHash: null, status: "active" as const, createdAt: T0, updatedAt: T0 };
  }
  function nodeLike(id: string) {
    return { id, projectId: b.project, type: "idea" as const, status: "open", reviewKind: null, verdict: null, titleEnc: blob("x"), bodyEnc: blob("x"), authorType: "human" as const, authorId: b.admin, version: 1, createdAt: T0, updatedAt: T0, archivedAt: null };
  }

  it("has seeded two tenants whose rows the checks can tell apart", () => {
    expect(alphaRows()).toContain(a.idea);
    expect(a.notification).not.toBe("");
    // The control case: alpha reading its own rows gets them, so an empty answer to beta means something.
    const alpha = db.forTenant(mintTenantScope(a.tenant, { type: "system", id: "t" }));
    expect(alpha.node(a.idea)?.id).toBe(a.idea);
    expect(alpha.membership(a.project, a.member)?.role).toBe("editor");
    expect(alpha.trace(a.decision, ["originates_from"], ["originates_from"], 5, 100).map((s) => s.nodeId)).toEqual([a.decision, a.idea]);
    expect(alpha.secret(a.secretName)?.id).toBe(a.secretId);
  });

  it("every TenantDb and TenantTx method has a case, and every case a method", () => {
    expect(Object.keys(tenantDbCases()).sort()).toEqual(methodsOf(TenantDb.prototype).sort());
    expect(Object.keys(tenantTxCases()).sort()).toEqual(methodsOf(TenantTx.prototype).sort());
  });

  it("every tenant-bound repository method has a case, and every case a method", async () => {
    const repos = await db.write((tx) => tx);
    const bound = Object.entries(repos)
      .filter(([, repo]) => typeof repo === "object" && repo !== null)
      .flatMap(([name, repo]) => tenantBoundMethods(repo as object).map((method) => `${name}.${method}`));
    expect(bound.length).toBeGreaterThan(30);
    expect(Object.keys(repositoryCases()).sort()).toEqual(bound.sort());
  });

  /** Runs the cases of one group; inserts only when asked, last, since a planted row of beta's changes what later calls see. */
  async function failuresOf(prefix: string, cases: Record<string, Case>, inserts: boolean): Promise<string[]> {
    const failures: string[] = [];
    for (const [name, c] of Object.entries(cases)) {
      if ((c.inserts ?? false) !== inserts) continue;
      const failure = await check(`${prefix}${name}`, c);
      if (failure !== undefined) failures.push(failure);
    }
    return failures;
  }

  it("beta's TenantDb reads nothing of alpha's and changes nothing", async () => {
    expect(await failuresOf("TenantDb.", tenantDbCases(), false)).toEqual([]);
  });

  it("beta's TenantTx reads and changes nothing of alpha's", async () => {
    expect(await failuresOf("TenantTx.", tenantTxCases(), false)).toEqual([]);
  });

  it("the repositories, given beta's tenant id and alpha's ids, read and change nothing of alpha's", async () => {
    expect(await failuresOf("", repositoryCases(), false)).toEqual([]);
  });

  it("beta's inserts that name alpha's rows are refused or stay beta's: alpha's rows are untouched", async () => {
    expect([...(await failuresOf("TenantTx.", tenantTxCases(), true)), ...(await failuresOf("", repositoryCases(), true))]).toEqual([]);
  });
});
