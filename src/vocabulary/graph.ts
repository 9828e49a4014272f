/**
 * The graph's vocabulary in one place: node types with their statuses, and edge types with
 * their canonical direction, display inverse, allowed endpoints and whether they belong to the
 * chain of custody. Adding a type is an edit here (and a migration for the CHECK constraints).
 */

export const NODE_TYPES = ["idea", "decision", "review", "task", "release", "note"] as const;
export type NodeType = (typeof NODE_TYPES)[number];

/** Statuses per type; the first is the status a new node starts in. Decisions follow ADR statuses. */
export const NODE_STATUSES = {
  idea: ["open", "adopted", "discarded"],
  decision: ["proposed", "accepted", "deprecated", "superseded"],
  review: ["open", "done"],
  task: ["todo", "doing", "done", "cancelled"],
  release: ["planned", "released", "withdrawn"],
  note: ["open"],
} as const satisfies Record<NodeType, readonly string[]>;

export type NodeStatus = (typeof NODE_STATUSES)[NodeType][number];
/** Every status of any type, once: what a request may name at all (isStatusOf then checks it fits the type). */
export const ALL_NODE_STATUSES = [...new Set(Object.values(NODE_STATUSES).flat())] as [NodeStatus, ...NodeStatus[]];

export const REVIEW_VERDICTS = ["approved", "changes_requested", "rejected"] as const;
export type ReviewVerdict = (typeof REVIEW_VERDICTS)[number];
export const REVIEW_KINDS = ["security", "design", "code", "legal", "other"] as const;
export type ReviewKind = (typeof REVIEW_KINDS)[number];

export function isStatusOf(type: NodeType, status: string): boolean {
  return (NODE_STATUSES[type] as readonly string[]).includes(status);
}

export const EDGE_TYPES = [
  "originates_from",
  "decided_by",
  "reviewed_in",
  "implements",
  "ships_in",
  "supersedes",
  "blocks",
  "duplicates",
  "relates",
  "parent_of",
] as const;
export type EdgeType = (typeof EDGE_TYPES)[number];

export interface EdgeRule {
  /** How the edge reads from its `from` end: "<from> originates from <to>". */
  readonly inverse: string;
  /** Node types allowed at each end; undefined means any. */
  readonly from?: readonly NodeType[];
  readonly to?: readonly NodeType[];
  /** Following the edge leads to cycles that make no sense (a thing cannot be its own ancestor). */
  readonly acyclic: boolean;
  /** Which end is upstream in the chain of custody (release → review → decision → idea); undefined: not a custody edge. */
  readonly upstream?: "from" | "to";
}

export const EDGE_RULES: Record<EdgeType, EdgeRule> = {
  originates_from: { inverse: "gave_rise_to", to: ["idea"], acyclic: true, upstream: "to" },
  decided_by: { inverse: "decides", to: ["decision"], acyclic: true, upstream: "to" },
  reviewed_in: { inverse: "reviews", to: ["review"], acyclic: true, upstream: "to" },
  implements: { inverse: "implemented_by", from: ["task"], to: ["decision", "idea"], acyclic: true, upstream: "to" },
  ships_in: { inverse: "ships", to: ["release"], acyclic: true, upstream: "from" },
  supersedes: { inverse: "superseded_by", from: ["decision"], to: ["decision"], acyclic: true, upstream: "to" },
  blocks: { inverse: "blocked_by", acyclic: true },
  duplicates: { inverse: "duplicated_by", acyclic: false },
  relates: { inverse: "relates", acyclic: false },
  parent_of: { inverse: "child_of", acyclic: true },
};

/** Custody edges, split by which end is upstream (for the trace query). */
export const UPSTREAM_VIA_TO: readonly EdgeType[] = EDGE_TYPES.filter((t) => EDGE_RULES[t].upstream === "to");
export const UPSTREAM_VIA_FROM: readonly EdgeType[] = EDGE_TYPES.filter((t) => EDGE_RULES[t].upstream === "from");

/** Limits on content, documented in docs/graph.md. */
export const TITLE_MAX_CHARS = 300;
export const BODY_MAX_CHARS = 100_000;
