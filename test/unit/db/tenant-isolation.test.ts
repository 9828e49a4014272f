/**
 * Tenant isolation by behaviour (datasheet 4.1), the companion of tenancy.test.ts, which reads the
 * SQL text. Two tenants' data in a real SQLite file; tenant "beta" then calls every method of every
 * repository of its door (src/db/tenant-repositories.ts), inside its write path and, for the
 * reads, through its read handle, with tenant "alpha"'s ids. Nothing of alpha may come back and
 * nothing of alpha may change (every row of alpha, compared before and after each call).
 *
 * The methods are enumerated from the registry, so a repository or method added tomorrow fails
 * this test until it has its case here.
 */
import { createHmac, randomBytes } from "node:crypto";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HmacAuditSealer } from "../../../src/audit/seal.js";
import { Database } from "../../../src/db/db.js";
import { ENCRYPTED_COLUMNS } from "../../../src/db/encrypted-columns.js";
import { tenantBookkeeping, type TenantDb } from "../../../src/db/tenant-db.js";
import { TENANT_REPOSITORIES, type TenantRepositories } from "../../../src/db/tenant-repositories.js";
import { mintTenantScope } from "../../../src/db/tenant-scope.js";
import { notifyFromEvent } from "../../../src/notify/notifications.js";
import type { DomainEvent } from "../../../src/vocabulary/events.js";
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
    signingKey: `${t}-signing-key`.slice(0, 16).padEnd(16, "0"),
    signingPublicKey: hash(`${t}-signing-key`),
    emailLookup: hash(`${t}-admin@example.test`),
    term: hash(`${t}-term`),
    aiCall: `${t}-ai-call`,
    notification: "", // filled in after the audit row that triggers it is written
  };
}
type Ids = ReturnType<typeof idsOf>;

const event = (tenantId: string, name: DomainEvent["event"] = "user.updated"): DomainEvent => ({
  event: name,
  sensitivity: "normal",
  severity: "info",
  tenantId,
  actor: { type: "system", id: "seed" },
  payload: {},
});

/** Each tenant's log gets SEEDED_EVENTS events here (alpha one more, below). */
const SEEDED_EVENTS = 3;

/** One recorded LLM call, its sealed payload already past its retention at LATER. */
const aiCall = (ids: Ids) => ({
  id: ids.aiCall,
  projectId: ids.project,
  actorType: "human" as const,
  actorId: ids.admin,
  useCase: "summarize",
  provider: "ollama",
  model: `${ids.tenant}-model`,
  outcome: "ok" as const,
  payloadSha256: "0".repeat(64),
  payloadBytes: 10,
  promptTokens: 1,
  outputTokens: 1,
  durationMs: 5,
  createdAt: T0,
  payloadEnc: blob(`${ids.tenant}-payload`),
  payloadExpiresAt: T0,
});

async function seed(db: Database, ids: Ids): Promise<void> {
  const user = (id: string, role: "tenant_admin" | "member", lookup: Uint8Array) => ({
    id,
    kind: "human" as const,
    emailLookup: lookup,
    emailEnc: blob(`${id}-email`),
    nameEnc: blob(`${id}-name`),
    role,
    auditor: false,
    passwordHash: null,
    status: "active" as const,
    createdAt: T0,
    updatedAt: T0,
  });
  const node = (id: string, type: "idea" | "decision") => ({
    id,
    projectId: ids.project,
    type,
    status: type === "idea" ? "open" : "proposed",
    reviewKind: null,
    verdict: null,
    titleEnc: blob(`${id}-title`),
    bodyEnc: blob(`${id}-body`),
    authorType: "human" as const,
    authorId: ids.admin,
    version: 1,
    createdAt: T0,
    updatedAt: T0,
    archivedAt: null,
  });
  await db.write((tx) => {
    tx.tenants.create({
      id: ids.tenant,
      slug: ids.tenant,
      nameEnc: blob(`${ids.tenant}-name`),
      kind: "customer",
      status: "active",
      accessTokenTtlSeconds: 28_800,
      createdAt: T0,
    });
    tx.audit(event(ids.tenant, "tenant.created"));
  });
  await db.forTenant(mintTenantScope(ids.tenant, { type: "system", id: "seed" })).write((tx) => {
    tx.users.insert(user(ids.admin, "tenant_admin", ids.emailLookup));
    tx.users.insert(user(ids.member, "member", hash(`${ids.member}@example.test`)));
    tx.projects.insert({
      id: ids.project,
      nameEnc: blob(`${ids.tenant}-project-name`),
      status: "active",
      createdBy: ids.admin,
      createdAt: T0,
      updatedAt: T0,
    });
    tx.projects.putMember({ projectId: ids.project, userId: ids.member, role: "editor", addedAt: T0 });
    tx.nodes.insert(node(ids.idea, "idea"), [ids.term]);
    tx.nodes.insert(node(ids.decision, "decision"), [ids.term]);
    tx.edges.insert({
      id: ids.edge,
      projectId: ids.project,
      type: "originates_from",
      fromId: ids.decision,
      toId: ids.idea,
      createdBy: ids.admin,
      createdByType: "human",
      createdAt: T0,
    });
    tx.comments.insert({
      id: `${ids.tenant}-comment`,
      projectId: ids.project,
      nodeId: ids.idea,
      bodyEnc: blob(`${ids.tenant}-comment-body`),
      authorType: "human",
      authorId: ids.admin,
      createdAt: T0,
    });
    tx.nodeRevisions.insert({
      id: `${ids.tenant}-revision`,
      projectId: ids.project,
      nodeId: ids.idea,
      version: 1,
      status: "open",
      reviewKind: null,
      verdict: null,
      titleEnc: blob(`${ids.tenant}-old-title`),
      bodyEnc: blob(`${ids.tenant}-old-body`),
      changedBy: ids.member,
      changedAt: T0,
    });
    tx.autonomyRules.replace(ids.project, [{ agentId: null, taskType: null, level: "advise" }], ids.admin, T0);
    tx.secrets.insert({
      id: ids.secretId,
      name: ids.secretName,
      valueEnc: blob("sealed"),
      descriptionEnc: blob("sealed"),
      version: 1,
      createdBy: ids.admin,
      createdAt: T0,
      rotatedBy: ids.admin,
      rotatedAt: T0,
    });
    tx.aiSettings.setUseCase({
      useCase: "default",
      provider: "ollama",
      model: `${ids.tenant}-model`,
      updatedBy: ids.admin,
      updatedAt: T0,
    });
    tx.aiSettings.setProvider({
      provider: "openai",
      enabled: true,
      apiKeySecret: ids.secretName,
      updatedBy: ids.admin,
      updatedAt: T0,
    });
    tx.aiCalls.insert(aiCall(ids));
    tx.passwordResets.replace({
      tokenHash: ids.reset,
      userId: ids.member,
      createdBy: ids.admin,
      createdAt: T0,
      expiresAt: LATER,
    });
    tx.personalTokens.insert({
      id: ids.token,
      userId: ids.member,
      name: "ci",
      tokenHash: ids.tokenHash,
      scopes: ["graph:read"],
      projectId: null,
      createdAt: T0,
      expiresAt: LATER,
      lastUsedAt: null,
      revokedAt: null,
    });
    tx.signingKeys.insert({
      id: ids.signingKey,
      userId: ids.member,
      name: "laptop",
      publicKey: ids.signingPublicKey,
      createdAt: T0,
      revokedAt: null,
    });
    tx.sessions.insert({
      id: ids.session,
      userId: ids.member,
      createdAt: T0,
      expiresAt: LATER,
      lastUsedAt: T0,
      revokedAt: null,
      revokeReason: null,
      client: "test",
    });
    tx.sessions.insertRefreshToken({
      tokenHash: ids.refresh,
      sessionId: ids.session,
      createdAt: T0,
      expiresAt: LATER,
      usedAt: null,
    });
    tx.audit(event(ids.tenant));
  });
  // An event with no change of its own, naming a user to tell: src/notify makes the notification.
  db.audit({ ...event(ids.tenant, "auth.refresh_reused"), notify: { userIds: [ids.member], message: "m" } });
  ids.notification = db.tenantReads(ids.tenant).notifications.forUser(ids.member, false, 1)[0]?.id ?? "";
  db.saveCheckpoint({
    tenantId: ids.tenant,
    size: 1,
    rootHash: hash(`${ids.tenant}-root`),
    frontier: hash(`${ids.tenant}-root`),
    note: `${ids.tenant} checkpoint`,
    createdAt: T0,
  });
}

/** Rows as sorted text (some tables are WITHOUT ROWID: no order to ask SQLite for). */
function sortedRows(rows: unknown[]): string[] {
  return rows.map((row) => JSON.stringify(row)).sort();
}

const total = (counts: ReadonlyMap<number, number>): number => [...counts.values()].reduce((sum, n) => sum + n, 0);

/** Methods declared on a class (not inherited, not the constructor; #private ones are not properties). */
function methodsOf(proto: object): string[] {
  return Object.getOwnPropertyNames(proto).filter(
    (name) => name !== "constructor" && typeof (proto as Record<string, unknown>)[name] === "function",
  );
}

type RepositoryName = keyof typeof TENANT_REPOSITORIES;
const NAMES = Object.keys(TENANT_REPOSITORIES) as RepositoryName[];

/** Every method of every tenant repository, as "repository.method": what must each have a case. */
const registryMethods = (): string[] =>
  NAMES.flatMap((name) => methodsOf(TENANT_REPOSITORIES[name].prototype).map((method) => `${name}.${method}`));

/** Whether "repository.method" is a read, i.e. also on the tenant's read handle. */
function isRead(key: string): boolean {
  const [name, method] = key.split(".") as [RepositoryName, string];
  return (TENANT_REPOSITORIES[name].reads as readonly string[]).includes(method);
}

/**
 * One call by beta with alpha's ids, given beta's repositories. `expected`, when given, is the
 * exact result (for results that carry no id: counts, booleans); otherwise the result must mention
 * nothing of alpha. `inserts`: the call adds (or deletes) a row of beta's, or is refused; alpha's
 * rows must still be untouched.
 */
interface Case {
  readonly run: (repositories: TenantRepositories) => unknown;
  readonly expected?: unknown;
  readonly inserts?: boolean;
}

/** A call through the door itself (its write, erase and bookkeeping paths), or the platform's way to a tenant. */
interface DoorCase {
  readonly run: () => unknown;
  readonly expected?: unknown;
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
    db.followEvents(notifyFromEvent);
    await seed(db, a);
    await seed(db, b);
    // Alpha alone has a second audit event and a throttle counter: a count or a clear that crossed over would show.
    db.audit({
      event: "user.updated",
      sensitivity: "normal",
      severity: "info",
      tenantId: a.tenant,
      actor: { type: "human", id: a.admin },
      payload: { userId: a.member },
    });
    await db.bookkeep("login-throttle", (tx) =>
      tx.loginThrottle.put({ key: `acct:${a.tenant}:x`, failures: 3, lastFailure: T0, blockedUntil: null }),
    );
    beta = db.forTenant(mintTenantScope(b.tenant, { type: "human", id: b.admin }));
  });
  afterAll(() => {
    raw.close();
    db.close();
    dir.cleanup();
  });

  /** Every row of every table, as text: what "nothing changed" is checked against. */
  function everything(): string {
    const tables = raw
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all();
    return JSON.stringify(tables.map(({ name }) => [name, sortedRows(raw.prepare(`SELECT * FROM "${name}"`).all())]));
  }

  /** Every row that belongs to alpha (by tenant id), in every table that has one. */
  function alphaRows(): string {
    const tables = raw
      .prepare<[], { name: string }>(
        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'tenant_id') ORDER BY m.name",
      )
      .all();
    return JSON.stringify(
      tables.map(({ name }) => [
        name,
        sortedRows(raw.prepare(`SELECT * FROM "${name}" WHERE tenant_id = ?`).all(a.tenant)),
      ]),
    );
  }

  /** Runs one call and checks it; returns a description of what went wrong, or undefined. */
  async function check(label: string, c: DoorCase, inserts: boolean): Promise<string | undefined> {
    const before = everything();
    const alphaBefore = alphaRows();
    let result: unknown;
    let threw = false;
    try {
      result = await c.run();
    } catch {
      threw = true; // a refusal (a foreign key, a constraint) changes nothing: checked below like any other outcome
    }
    if (!inserts && everything() !== before) return `${label}: changed the database`;
    if (alphaRows() !== alphaBefore) return `${label}: changed a row of alpha`;
    if (threw) return inserts ? undefined : `${label}: threw`;
    if ("expected" in c)
      return JSON.stringify(result) === JSON.stringify(c.expected)
        ? undefined
        : `${label}: returned ${JSON.stringify(result)}, expected ${JSON.stringify(c.expected)}`;
    return JSON.stringify(result ?? null).includes("alpha")
      ? `${label}: returned alpha's data ${JSON.stringify(result)}`
      : undefined;
  }

  /**
   * A case inside beta's write path. A call that changes rows records an event of beta's (else the
   * write path refuses it); one that should change nothing records none, so a change it made
   * anyway is refused and reported as a throw.
   */
  const inBetaWrite = (c: Case, inserts: boolean): DoorCase => ({
    ...c,
    run: () =>
      beta.write((tx) => {
        const result = c.run(tx);
        if (inserts) tx.audit(event(b.tenant));
        return result;
      }),
  });
  /** A read case through beta's read handle, which holds only the reads (checked below). */
  const onBetaReads = (c: Case): DoorCase => ({ ...c, run: () => c.run(beta as unknown as TenantRepositories) });

  const alphaSealed = () =>
    ENCRYPTED_COLUMNS.flatMap((column) =>
      db
        .tenantReads(a.tenant)
        .sealedFields.notUnder(column, 0xffff_ffff, "", 1000)
        .map((row) => ({ column, row })),
    );
  const allFilters = { includeArchived: true, limit: 100, terms: [a.term] };
  function userLike(id: string) {
    return {
      id,
      kind: "human" as const,
      emailLookup: hash(id),
      emailEnc: blob("x"),
      nameEnc: blob("x"),
      role: "tenant_admin" as const,
      auditor: false,
      passwordHash: null,
      status: "active" as const,
      createdAt: T0,
      updatedAt: T0,
    };
  }
  function nodeLike(id: string) {
    return {
      id,
      projectId: b.project,
      type: "idea" as const,
      status: "open",
      reviewKind: null,
      verdict: null,
      titleEnc: blob("x"),
      bodyEnc: blob("x"),
      authorType: "human" as const,
      authorId: b.admin,
      version: 1,
      createdAt: T0,
      updatedAt: T0,
      archivedAt: null,
    };
  }

  /** Every method of every tenant repository, called as beta with alpha's ids. */
  const repositoryCases = (): Record<string, Case> => ({
    "tenant.get": { run: (r) => r.tenant.get()?.id, expected: b.tenant },
    "users.get": { run: (r) => r.users.get(a.admin) },
    "users.findByEmail": { run: (r) => r.users.findByEmail(a.emailLookup) },
    "users.list": { run: (r) => r.users.list(undefined, 100) },
    "users.countByRole": { run: (r) => r.users.countByRole("member"), expected: 1 },
    "users.insert": {
      run: (r) => r.users.insert({ ...userLike(a.member), emailLookup: a.emailLookup }),
      inserts: true,
    },
    "users.update": {
      run: (r) => r.users.update(a.member, { role: "viewer", status: "disabled" }, LATER),
      expected: false,
    },
    "users.pseudonymise": {
      run: (r) =>
        r.users.pseudonymise(a.member, { emailLookup: hash("x"), emailEnc: blob("x"), nameEnc: blob("x") }, LATER),
      expected: false,
    },
    "users.delete": { run: (r) => r.users.delete(a.member), expected: false },
    "sessions.get": { run: (r) => r.sessions.get(a.session) },
    "sessions.listForUser": { run: (r) => r.sessions.listForUser(a.member) },
    "sessions.insert": {
      run: (r) =>
        r.sessions.insert({
          id: `${b.tenant}-planted-session`,
          userId: a.member,
          createdAt: T0,
          expiresAt: LATER,
          lastUsedAt: T0,
          revokedAt: null,
          revokeReason: null,
          client: "x",
        }),
      inserts: true,
    },
    "sessions.touch": { run: (r) => r.sessions.touch(a.session, LATER) },
    "sessions.revoke": { run: (r) => r.sessions.revoke(a.session, "x", LATER), expected: false },
    "sessions.revokeAllForUser": { run: (r) => r.sessions.revokeAllForUser(a.member, "x", LATER), expected: 0 },
    "sessions.revokeOthersForUser": {
      run: (r) => r.sessions.revokeOthersForUser(a.member, "none", "x", LATER),
      expected: 0,
    },
    "sessions.insertRefreshToken": {
      run: (r) =>
        r.sessions.insertRefreshToken({
          tokenHash: hash("beta-planted-refresh"),
          sessionId: a.session,
          createdAt: T0,
          expiresAt: LATER,
          usedAt: null,
        }),
      inserts: true,
    },
    "sessions.spendRefreshToken": { run: (r) => r.sessions.spendRefreshToken(a.refresh, LATER), expected: false },
    "personalTokens.get": { run: (r) => r.personalTokens.get(a.token) },
    "personalTokens.listForUser": { run: (r) => r.personalTokens.listForUser(a.member) },
    "personalTokens.insert": {
      run: (r) =>
        r.personalTokens.insert({
          id: `${b.tenant}-planted-token`,
          userId: a.member,
          name: "x",
          tokenHash: hash("planted"),
          scopes: ["graph:read"],
          projectId: a.project,
          createdAt: T0,
          expiresAt: LATER,
          lastUsedAt: null,
          revokedAt: null,
        }),
      inserts: true,
    },
    "personalTokens.touch": { run: (r) => r.personalTokens.touch(a.token, LATER) },
    "personalTokens.revoke": { run: (r) => r.personalTokens.revoke(a.member, a.token, LATER), expected: false },
    "personalTokens.revokeAllForUser": { run: (r) => r.personalTokens.revokeAllForUser(a.member, LATER), expected: 0 },
    "signingKeys.get": { run: (r) => r.signingKeys.get(a.signingKey) },
    "signingKeys.findByPublicKey": { run: (r) => r.signingKeys.findByPublicKey(a.signingPublicKey) },
    "signingKeys.listForUser": { run: (r) => r.signingKeys.listForUser(a.member) },
    "signingKeys.insert": {
      run: (r) =>
        r.signingKeys.insert({
          id: "beta-planted-key",
          userId: a.member,
          name: "x",
          publicKey: hash("planted-signing-key"),
          createdAt: T0,
          revokedAt: null,
        }),
      inserts: true,
    },
    "signingKeys.revoke": { run: (r) => r.signingKeys.revoke(a.member, a.signingKey, LATER), expected: false },
    "signingKeys.revokeAllForUser": { run: (r) => r.signingKeys.revokeAllForUser(a.member, LATER), expected: 0 },
    "passwordResets.replace": {
      run: (r) =>
        r.passwordResets.replace({
          tokenHash: hash("beta-planted-reset"),
          userId: a.member,
          createdBy: b.admin,
          createdAt: LATER,
          expiresAt: LATER,
        }),
      inserts: true,
    },
    "passwordResets.consume": { run: (r) => r.passwordResets.consume(a.reset, T0), expected: false },
    // Deletes beta's own resets (a change `inserts` allows); alpha's must stay.
    "passwordResets.deleteForTenant": { run: (r) => r.passwordResets.deleteForTenant(), inserts: true },
    "passwordResets.deleteForUser": { run: (r) => r.passwordResets.deleteForUser(a.member), expected: 0 },
    "projects.get": { run: (r) => r.projects.get(a.project) },
    "projects.list": { run: (r) => r.projects.list(undefined, 100) },
    "projects.listForMember": { run: (r) => r.projects.listForMember(a.member, undefined, 100) },
    "projects.insert": {
      run: (r) =>
        r.projects.insert({
          id: `${b.tenant}-planted-project`,
          nameEnc: blob("x"),
          status: "active",
          createdBy: a.admin,
          createdAt: T0,
          updatedAt: T0,
        }),
      inserts: true,
    },
    "projects.update": {
      run: (r) => r.projects.update(a.project, { nameEnc: blob("x"), status: "archived" }, LATER),
      expected: false,
    },
    "projects.membership": { run: (r) => r.projects.membership(a.project, a.member) },
    "projects.members": { run: (r) => r.projects.members(a.project) },
    "projects.putMember": {
      run: (r) => r.projects.putMember({ projectId: a.project, userId: a.member, role: "viewer", addedAt: LATER }),
      inserts: true,
    },
    "projects.erase": { run: (r) => r.projects.erase(a.project), expected: false },
    "projects.removeMember": { run: (r) => r.projects.removeMember(a.project, a.member), expected: false },
    "nodes.get": { run: (r) => r.nodes.get(a.idea) },
    "nodes.getMany": { run: (r) => r.nodes.getMany([a.idea, a.decision]) },
    "nodes.list": { run: (r) => r.nodes.list(a.project, allFilters) },
    "nodes.insert": {
      run: (r) => r.nodes.insert({ ...nodeLike(`${b.tenant}-planted`), projectId: a.project }, [a.term]),
      inserts: true,
    },
    "nodes.update": {
      run: (r) => r.nodes.update(a.idea, 1, { titleEnc: blob("x"), archivedAt: LATER }, LATER, [a.term]),
    },
    "nodes.erase": { run: (r) => r.nodes.erase(a.idea), expected: false },
    "nodes.eraseProjectNodes": { run: (r) => r.nodes.eraseProjectNodes(a.project), expected: 0 },
    "edges.get": { run: (r) => r.edges.get(a.edge) },
    "edges.find": { run: (r) => r.edges.find("originates_from", a.decision, a.idea) },
    "edges.touching": { run: (r) => r.edges.touching([a.idea, a.decision]) },
    "edges.listForProject": { run: (r) => r.edges.listForProject(a.project, undefined, 100) },
    "edges.reachable": { run: (r) => r.edges.reachable("originates_from", a.decision, a.idea, 5), expected: false },
    // The start node is echoed back at depth 0 (the caller named it); nothing reached from it.
    "edges.trace": {
      run: (r) => r.edges.trace(a.decision, ["originates_from"], ["originates_from"], 5, 100),
      expected: [{ nodeId: a.decision, depth: 0 }],
    },
    "edges.insert": {
      run: (r) =>
        r.edges.insert({
          id: `${b.tenant}-planted-edge`,
          projectId: a.project,
          type: "originates_from",
          fromId: a.idea,
          toId: a.decision,
          createdBy: b.admin,
          createdByType: "human",
          createdAt: T0,
        }),
      inserts: true,
    },
    "edges.delete": { run: (r) => r.edges.delete(a.edge), expected: false },
    "edges.deleteTouching": { run: (r) => r.edges.deleteTouching(a.idea), expected: 0 },
    "edges.deleteForProject": { run: (r) => r.edges.deleteForProject(a.project), expected: 0 },
    "aiSettings.useCases": { run: (r) => r.aiSettings.useCases() },
    "aiSettings.providers": { run: (r) => r.aiSettings.providers() },
    // Upserts and a removal on keys both tenants have: beta's own row changes, alpha's must not.
    "aiSettings.setUseCase": {
      run: (r) =>
        r.aiSettings.setUseCase({
          useCase: "default",
          provider: "ollama",
          model: "planted",
          updatedBy: b.admin,
          updatedAt: LATER,
        }),
      inserts: true,
    },
    "aiSettings.removeUseCase": { run: (r) => r.aiSettings.removeUseCase("default"), inserts: true },
    "aiSettings.setProvider": {
      run: (r) =>
        r.aiSettings.setProvider({
          provider: "openai",
          enabled: false,
          apiKeySecret: "planted",
          updatedBy: b.admin,
          updatedAt: LATER,
        }),
      inserts: true,
    },
    "aiCalls.get": { run: (r) => r.aiCalls.get(a.aiCall) },
    // Seeded alike: beta counts its own one call; alpha's would make two.
    "aiCalls.countByProvider": { run: (r) => r.aiCalls.countByProvider(T0, LATER), expected: { ollama: 1 } },
    "aiCalls.insert": { run: (r) => r.aiCalls.insert({ ...aiCall(b), id: `${b.tenant}-planted-call` }), inserts: true },
    // Both payloads are past retention at LATER: beta's expires (its own), alpha's must stay.
    "aiCalls.expirePayloads": { run: (r) => r.aiCalls.expirePayloads(LATER), inserts: true },
    "edges.approve": { run: (r) => r.edges.approve(a.edge), expected: false },
    "comments.forNode": { run: (r) => r.comments.forNode(a.idea, undefined, 100) },
    "comments.insert": {
      run: (r) =>
        r.comments.insert({
          id: `${b.tenant}-planted-comment`,
          projectId: a.project,
          nodeId: a.idea,
          bodyEnc: blob("x"),
          authorType: "human",
          authorId: b.admin,
          createdAt: T0,
        }),
      inserts: true,
    },
    "comments.eraseForNode": { run: (r) => r.comments.eraseForNode(a.idea), expected: 0 },
    "comments.eraseForProject": { run: (r) => r.comments.eraseForProject(a.project), expected: 0 },
    "nodeRevisions.forNode": { run: (r) => r.nodeRevisions.forNode(a.idea, 100) },
    "nodeRevisions.insert": {
      run: (r) =>
        r.nodeRevisions.insert({
          id: `${b.tenant}-planted-revision`,
          projectId: a.project,
          nodeId: a.idea,
          version: 1,
          status: "open",
          reviewKind: null,
          verdict: null,
          titleEnc: blob("x"),
          bodyEnc: blob("x"),
          changedBy: b.admin,
          changedAt: T0,
        }),
      inserts: true,
    },
    "nodeRevisions.eraseForNode": { run: (r) => r.nodeRevisions.eraseForNode(a.idea), expected: 0 },
    "nodeRevisions.eraseForProject": { run: (r) => r.nodeRevisions.eraseForProject(a.project), expected: 0 },
    "autonomyRules.forProject": { run: (r) => r.autonomyRules.forProject(a.project), expected: [] },
    "autonomyRules.applicable": {
      run: (r) => r.autonomyRules.applicable(a.project, a.member, "comment"),
      expected: [],
    },
    "autonomyRules.overseers": { run: (r) => r.autonomyRules.overseers(a.project), expected: [b.admin] },
    "autonomyRules.replace": {
      run: (r) =>
        r.autonomyRules.replace(a.project, [{ agentId: a.member, taskType: null, level: "automate" }], b.admin, LATER),
      inserts: true,
    },
    "secrets.get": { run: (r) => r.secrets.get(a.secretName) },
    "secrets.list": { run: (r) => r.secrets.list(undefined, 100) },
    "secrets.insert": {
      run: (r) =>
        r.secrets.insert({
          id: `${b.tenant}-planted-secret`,
          name: a.secretName,
          valueEnc: blob("x"),
          descriptionEnc: blob("x"),
          version: 1,
          createdBy: b.admin,
          createdAt: T0,
          rotatedBy: b.admin,
          rotatedAt: T0,
        }),
      inserts: true,
    },
    "secrets.rotate": {
      run: (r) => r.secrets.rotate(a.secretId, undefined, { valueEnc: blob("x"), rotatedBy: b.admin }, LATER),
    },
    "secrets.delete": { run: (r) => r.secrets.delete(a.secretName) },
    "notifications.insert": {
      run: (r) =>
        r.notifications.insert({
          id: `${b.tenant}-planted-notification`,
          userId: a.member,
          triggeredByAuditVid: "x",
          message: "x",
          createdAt: LATER,
          readAt: null,
        }),
      inserts: true,
    },
    "notifications.forUser": { run: (r) => r.notifications.forUser(a.member, false, 100) },
    "notifications.markRead": {
      run: (r) => r.notifications.markRead(a.member, a.notification, LATER),
      expected: false,
    },
    "auditLog.page": { run: (r) => r.auditLog.page(0, 100) },
    "auditLog.filtered": { run: (r) => r.auditLog.filtered({ afterSeq: -1, limit: 100 }) },
    "auditLog.leafHashes": { run: (r) => r.auditLog.leafHashes(0, 100).length, expected: SEEDED_EVENTS },
    "auditLog.size": { run: (r) => r.auditLog.size(), expected: SEEDED_EVENTS },
    "auditLog.latestCheckpoint": { run: (r) => r.auditLog.latestCheckpoint() },
    "auditLog.checkpoints": { run: (r) => r.auditLog.checkpoints() },
    // Seeded alike (two people, one project, two nodes, one token, one session each): a count that crossed over would double.
    "usage.activeAccounts": { run: (r) => r.usage.activeAccounts(), expected: { humans: 2, agents: 0 } },
    "usage.users": { run: (r) => r.usage.users().reduce((sum, row) => sum + row.count, 0), expected: 2 },
    "usage.activeHumans": { run: (r) => r.usage.activeHumans(T0, LATER), expected: 1 },
    "usage.activeProjects": { run: (r) => r.usage.activeProjects(), expected: 1 },
    "usage.liveNodes": { run: (r) => r.usage.liveNodes(), expected: 2 },
    "usage.livePersonalTokens": { run: (r) => r.usage.livePersonalTokens(T0), expected: 1 },
    "usage.sessionSpans": { run: (r) => r.usage.sessionSpans(T0, LATER).length, expected: 1 },
    // Seeded alike, so beta has as many sealed values as alpha; a leak would add alpha's to beta's.
    "sealedFields.versionCounts": {
      run: (r) => total(r.sealedFields.versionCounts()),
      expected: total(db.tenantReads(a.tenant).sealedFields.versionCounts()),
    },
    "sealedFields.notUnder": {
      run: (r) =>
        ENCRYPTED_COLUMNS.flatMap((column) =>
          r.sealedFields.notUnder(column, 0xffff_ffff, "", 1000).map((row) => row.id),
        ),
    },
    "sealedFields.replace": {
      run: (r) =>
        alphaSealed().filter(({ column, row }) => r.sealedFields.replace(column, row.id, row.sealed, blob("x"))),
      expected: [],
    },
  });

  /** The door's own paths, each bound to beta, and the platform's ways to one tenant's data. */
  const doorCases = (): Record<string, DoorCase> => ({
    write: { run: () => beta.write((tx) => tx.tenantId), expected: b.tenant },
    // One read transaction around beta's reads is still beta's door: alpha's node is not found.
    read: {
      run: () => beta.read(() => [beta.nodes.get(a.idea), beta.projects.get(a.project)]),
      expected: [undefined, undefined],
    },
    erase: { run: () => beta.erase((tx) => tx.nodes.erase(a.idea)), expected: false },
    "bookkeep:credential-use": {
      run: () =>
        beta.bookkeep("credential-use", (tx) => [
          tx.sessions.touch(a.session, LATER),
          tx.personalTokens.touch(a.token, LATER),
          tx.sessions.spendRefreshToken(a.refresh, LATER),
        ]),
      expected: [null, null, false],
    },
    "bookkeep:notification-read": {
      run: () => beta.bookkeep("notification-read", (tx) => tx.notifications.markRead(a.member, a.notification, LATER)),
      expected: false,
    },
    "platform tenantReads": { run: () => db.tenantReads(b.tenant).nodes.getMany([a.idea, a.decision]) },
    "platform tx.tenant": { run: () => db.write((tx) => tx.tenant(b.tenant).nodes.erase(a.idea)), expected: false },
    "platform loginThrottle.clearTenant": { run: () => db.write((tx) => tx.loginThrottle.clearTenant(b.tenant)) },
    "credentials.userByEmail": { run: () => db.credentials.userByEmail(b.tenant, a.emailLookup) },
  });

  it("has seeded two tenants whose rows the checks can tell apart", () => {
    expect(alphaRows()).toContain(a.idea);
    expect(a.notification).not.toBe("");
    // The control case: alpha reading its own rows gets them, so an empty answer to beta means something.
    const alpha = db.forTenant(mintTenantScope(a.tenant, { type: "system", id: "t" }));
    expect(alpha.nodes.get(a.idea)?.id).toBe(a.idea);
    expect(alpha.projects.membership(a.project, a.member)?.role).toBe("editor");
    expect(
      alpha.edges.trace(a.decision, ["originates_from"], ["originates_from"], 5, 100).map((s) => s.nodeId),
    ).toEqual([a.decision, a.idea]);
    expect(alpha.secrets.get(a.secretName)?.id).toBe(a.secretId);
    expect(alpha.auditLog.size()).toBe(SEEDED_EVENTS + 1);
    expect(db.credentials.userByEmail(a.tenant, a.emailLookup)?.id).toBe(a.admin);
  });

  it("every tenant-bound repository method has a case, and every case a method", () => {
    const methods = registryMethods();
    expect(methods.length).toBeGreaterThan(60);
    expect(Object.keys(repositoryCases()).sort()).toEqual(methods.sort());
  });

  it("the door's read handle holds exactly each repository's reads: no write is reachable through it, not even by a cast", () => {
    for (const name of NAMES)
      expect({ [name]: Object.keys(beta[name]).sort() }).toEqual({
        [name]: [...TENANT_REPOSITORIES[name].reads].sort(),
      });
    expect(
      Object.keys(beta)
        .filter((key) => !(NAMES as string[]).includes(key))
        .sort(),
    ).toEqual(["bookkeep", "erase", "read", "tenantId", "write"]);
    expect((beta.nodes as unknown as Record<string, unknown>)["insert"]).toBeUndefined();
    expect(() => (beta.users as unknown as { delete: (id: string) => boolean }).delete(b.member)).toThrow(TypeError);
  });

  it("every bookkeeping kind of the door has a case", () => {
    const kinds = Object.keys(tenantBookkeeping(raw, b.tenant)).map((kind) => `bookkeep:${kind}`);
    expect(
      Object.keys(doorCases())
        .filter((key) => key.startsWith("bookkeep:"))
        .sort(),
    ).toEqual(kinds.sort());
  });

  /** Runs the cases of one group; inserts only when asked, last, since a planted row of beta's changes what later calls see. */
  async function failuresOf(cases: Record<string, Case>, inserts: boolean, via: "write" | "reads"): Promise<string[]> {
    const failures: string[] = [];
    for (const [name, c] of Object.entries(cases)) {
      if ((c.inserts ?? false) !== inserts) continue;
      if (via === "reads" && !isRead(name)) continue;
      const failure = await check(
        `${via === "reads" ? "read handle" : "write"} ${name}`,
        via === "reads" ? onBetaReads(c) : inBetaWrite(c, inserts),
        inserts,
      );
      if (failure !== undefined) failures.push(failure);
    }
    return failures;
  }

  it("beta's TenantDb reads nothing of alpha's and changes nothing", async () => {
    expect(await failuresOf(repositoryCases(), false, "reads")).toEqual([]);
  });

  it("the repositories, given beta's tenant id and alpha's ids, read and change nothing of alpha's", async () => {
    expect(await failuresOf(repositoryCases(), false, "write")).toEqual([]);
  });

  it("the door's write, erase and bookkeeping paths and the platform's ways in are bound to the tenant they name", async () => {
    const failures: string[] = [];
    for (const [name, c] of Object.entries(doorCases())) {
      const failure = await check(name, c, false);
      if (failure !== undefined) failures.push(failure);
    }
    expect(failures).toEqual([]);
  });

  it("beta's inserts that name alpha's rows are refused or stay beta's: alpha's rows are untouched", async () => {
    expect(await failuresOf(repositoryCases(), true, "write")).toEqual([]);
  });
});
