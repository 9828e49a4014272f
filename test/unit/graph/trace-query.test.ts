/**
 * The chain-of-custody trace on a small hand-built graph, through the real appliance (real
 * database, keys and authenticator) and the domain functions: who is upstream of what and at
 * which depth, noise edges (even in cycles) not followed, the depth bound, and nothing from
 * another project or tenant.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Principal } from "../../../src/auth/principal.js";
import type { TenantDb } from "../../../src/db/tenant-db.js";
import { DomainError } from "../../../src/errors.js";
import { createEdge } from "../../../src/graph/edges.js";
import { createNode } from "../../../src/graph/nodes.js";
import { createProject, type GraphDeps } from "../../../src/graph/projects.js";
import { traceUpstream, type Trace } from "../../../src/graph/trace.js";
import type { EdgeType, NodeType } from "../../../src/vocabulary/graph.js";
import { identityFixture, type Fixture } from "../../identity-fixture.js";

interface Actor {
  readonly principal: Principal;
  readonly tenantDb: TenantDb;
}

let fx: Fixture;
let deps: GraphDeps;
let acme: Actor;
let globex: Actor;
let projectA: string;
let projectB: string;
/** Node ids of project A by name. */
const n: Record<string, string> = {};
let otherProjectNode: string;
let otherTenantNode: string;

async function actor(slug: string): Promise<Actor> {
  const tenant = await fx.createTenant(slug);
  const principal = await fx.services.identity.authenticator.authenticate(tenant.admin.tokens.accessToken);
  if (!principal.tenantScope) throw new Error("tenant admin without tenant scope");
  return { principal, tenantDb: fx.services.db.forTenant(principal.tenantScope) };
}

async function node(a: Actor, projectId: string, type: NodeType, title: string): Promise<string> {
  return (await createNode(deps, a.tenantDb, a.principal, projectId, { type, title, body: `${title} body` })).id;
}

async function edge(a: Actor, projectId: string, type: EdgeType, from: string, to: string): Promise<void> {
  await createEdge(deps, a.tenantDb, a.principal, projectId, { type, from, to });
}

function depths(trace: Trace): Record<string, number> {
  const byId = new Map(Object.entries(n).map(([name, id]) => [id, name]));
  return Object.fromEntries(trace.nodes.map((t) => [byId.get(t.id) ?? t.id, t.depth]));
}

beforeAll(async () => {
  fx = await identityFixture();
  deps = fx.services.graph;
  acme = await actor("acme");
  globex = await actor("globex");
  projectA = (await createProject(deps, acme.tenantDb, acme.principal, { name: "A" })).id;
  projectB = (await createProject(deps, acme.tenantDb, acme.principal, { name: "B" })).id;
  const add = async (name: string, type: NodeType): Promise<void> => {
    n[name] = await node(acme, projectA, type, name);
  };
  const id = (name: string): string => {
    const v = n[name];
    if (v === undefined) throw new Error(`no node ${name}`);
    return v;
  };
  for (const [name, type] of [
    ["idea1", "idea"],
    ["idea2", "idea"],
    ["idea3", "idea"],
    ["decision1", "decision"],
    ["decision2", "decision"],
    ["review1", "review"],
    ["releaseReview", "review"],
    ["task1", "task"],
    ["task2", "task"],
    ["release", "release"],
    ["otherRelease", "release"],
    ["otherTask", "task"],
    ["note", "note"],
  ] as const) {
    await add(name, type);
  }
  // Custody: release ← task1, task2 (ships_in); release → releaseReview; task1 → decision2 → decision1
  // (supersedes); task2 → decision1; decision1 → idea1; decision2 → idea2, review1.
  await edge(acme, projectA, "ships_in", id("task1"), id("release"));
  await edge(acme, projectA, "ships_in", id("task2"), id("release"));
  await edge(acme, projectA, "reviewed_in", id("release"), id("releaseReview"));
  await edge(acme, projectA, "implements", id("task1"), id("decision2"));
  await edge(acme, projectA, "implements", id("task2"), id("decision1"));
  await edge(acme, projectA, "supersedes", id("decision2"), id("decision1"));
  await edge(acme, projectA, "originates_from", id("decision1"), id("idea1"));
  await edge(acme, projectA, "originates_from", id("decision2"), id("idea2"));
  await edge(acme, projectA, "reviewed_in", id("decision2"), id("review1"));
  // Downstream of the release, not upstream: another release's task implements decision1.
  await edge(acme, projectA, "ships_in", id("otherTask"), id("otherRelease"));
  await edge(acme, projectA, "implements", id("otherTask"), id("decision1"));
  // Noise, with cycles: relates both ways, relates into a cycle with a note, blocks.
  await edge(acme, projectA, "relates", id("release"), id("idea3"));
  await edge(acme, projectA, "relates", id("idea3"), id("release"));
  await edge(acme, projectA, "relates", id("decision2"), id("note"));
  await edge(acme, projectA, "relates", id("note"), id("decision2"));
  await edge(acme, projectA, "relates", id("idea1"), id("otherRelease"));
  await edge(acme, projectA, "blocks", id("task1"), id("task2"));
  await edge(acme, projectA, "duplicates", id("idea1"), id("idea2"));
  await edge(acme, projectA, "duplicates", id("idea2"), id("idea1"));
  // The same shape elsewhere: project B of the same tenant, and another tenant.
  const bIdea = await node(acme, projectB, "idea", "B idea");
  const bDecision = await node(acme, projectB, "decision", "B decision");
  otherProjectNode = bIdea;
  await edge(acme, projectB, "originates_from", bDecision, bIdea);
  const globexProject = (await createProject(deps, globex.tenantDb, globex.principal, { name: "G" })).id;
  otherTenantNode = await node(globex, globexProject, "decision", "G decision");
  const gIdea = await node(globex, globexProject, "idea", "G idea");
  await edge(globex, globexProject, "originates_from", otherTenantNode, gIdea);
}, 120_000);

afterAll(() => fx?.close());

describe("traceUpstream", () => {
  it("returns the release's chain of custody with each node's shortest distance", async () => {
    const trace = await traceUpstream(deps, acme.tenantDb, acme.principal, n.release as string);
    expect(trace.root).toBe(n.release);
    expect(trace.truncated).toBe(false);
    expect(depths(trace)).toEqual({
      release: 0,
      task1: 1,
      task2: 1,
      releaseReview: 1,
      decision2: 2,
      // Reached at depth 2 (task2 implements it) and 3 (decision2 supersedes it): the shorter wins.
      decision1: 2,
      idea2: 3,
      review1: 3,
      idea1: 3,
    });
    // Nodes come ordered by depth, with decrypted titles.
    expect(trace.nodes.map((t) => t.depth)).toEqual([...trace.nodes.map((t) => t.depth)].sort((a, b) => a - b));
    expect(trace.nodes.find((t) => t.id === n.idea1)?.title).toBe("idea1");
  });

  it("returns the custody edges among the traced nodes, and no noise edge", async () => {
    const trace = await traceUpstream(deps, acme.tenantDb, acme.principal, n.release as string);
    const name = new Map(Object.entries(n).map(([k, v]) => [v, k]));
    const edges = trace.edges.map((e) => `${name.get(e.from)} ${e.type} ${name.get(e.to)}`).sort();
    expect(edges).toEqual(
      [
        "task1 ships_in release",
        "task2 ships_in release",
        "release reviewed_in releaseReview",
        "task1 implements decision2",
        "task2 implements decision1",
        "decision2 supersedes decision1",
        "decision1 originates_from idea1",
        "decision2 originates_from idea2",
        "decision2 reviewed_in review1",
      ].sort(),
    );
  });

  it("does not follow noise edges, cycles included, nor go downstream", async () => {
    const trace = await traceUpstream(deps, acme.tenantDb, acme.principal, n.release as string);
    const ids = new Set(trace.nodes.map((t) => t.id));
    for (const name of ["idea3", "note", "otherRelease", "otherTask"])
      expect(ids.has(n[name] as string), name).toBe(false);
  });

  it("respects the depth bound", async () => {
    expect(depths(await traceUpstream(deps, acme.tenantDb, acme.principal, n.release as string, 0))).toEqual({
      release: 0,
    });
    expect(depths(await traceUpstream(deps, acme.tenantDb, acme.principal, n.release as string, 1))).toEqual({
      release: 0,
      task1: 1,
      task2: 1,
      releaseReview: 1,
    });
    const two = await traceUpstream(deps, acme.tenantDb, acme.principal, n.release as string, 2);
    expect(Math.max(...two.nodes.map((t) => t.depth))).toBe(2);
    expect(two.nodes.some((t) => t.id === n.idea1)).toBe(false);
    // An edge is returned only if both its ends were traced.
    const ids = new Set(two.nodes.map((t) => t.id));
    expect(two.edges.every((e) => ids.has(e.from) && ids.has(e.to))).toBe(true);
  });

  it("starts anywhere in the chain, and a node with nothing upstream traces to itself", async () => {
    expect(depths(await traceUpstream(deps, acme.tenantDb, acme.principal, n.decision2 as string))).toEqual({
      decision2: 0,
      decision1: 1,
      idea2: 1,
      review1: 1,
      idea1: 2,
    });
    const idea = await traceUpstream(deps, acme.tenantDb, acme.principal, n.idea1 as string);
    expect(depths(idea)).toEqual({ idea1: 0 });
    expect(idea.edges).toEqual([]);
  });

  it("never returns a node of another project or tenant", async () => {
    const trace = await traceUpstream(deps, acme.tenantDb, acme.principal, n.release as string);
    const ids = trace.nodes.map((t) => t.id);
    expect(ids).not.toContain(otherProjectNode);
    expect(ids).not.toContain(otherTenantNode);
    // Another tenant cannot trace this tenant's node: not found, as if it did not exist.
    await expect(traceUpstream(deps, globex.tenantDb, globex.principal, n.release as string)).rejects.toSatisfy(
      (e: unknown) => e instanceof DomainError && e.kind === "not-found",
    );
    // And no edge can join two projects, so the trace has nothing to follow across them.
    await expect(
      createEdge(deps, acme.tenantDb, acme.principal, projectA, {
        type: "originates_from",
        from: n.decision1 as string,
        to: otherProjectNode,
      }),
    ).rejects.toBeInstanceOf(DomainError);
  });
});
