/**
 * Autonomy: how far an agent may act on its own in a project (issue 16 point 4). Levels are
 * ordered; each write an agent can attempt falls into exactly one task type. The rules of each
 * level live in src/auth/autonomy.ts; docs/agents.md has the table.
 */

/** Ordered from least to most autonomy: a level includes what the levels before it allow. */
export const AUTONOMY_LEVELS = ["observe", "advise", "assist", "delegate", "automate"] as const;
export type AutonomyLevel = (typeof AUTONOMY_LEVELS)[number];

/** What an agent has until someone grants more: it may read, nothing else. */
export const DEFAULT_AUTONOMY_LEVEL: AutonomyLevel = "observe";

/**
 * Every write an agent can attempt, one task type each. Restoring and erasing content, projects,
 * memberships, users, tokens, secrets and settings are no task type: agents never do them.
 */
export const TASK_TYPES = [
  "comment", // a comment on a node
  "node.create",
  "node.update",
  "node.archive",
  "edge.create",
  "edge.delete",
] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** Task types that create something: at Assist they are kept as drafts a human approves. */
export const CREATING_TASKS: ReadonlySet<TaskType> = new Set<TaskType>(["node.create", "edge.create"]);

export function levelRank(level: AutonomyLevel): number {
  return AUTONOMY_LEVELS.indexOf(level);
}

export function isAutonomyLevel(value: string): value is AutonomyLevel {
  return (AUTONOMY_LEVELS as readonly string[]).includes(value);
}

export function isTaskType(value: string): value is TaskType {
  return (TASK_TYPES as readonly string[]).includes(value);
}

/** A most-specific-wins rule of one project: null agent or task type means "any". */
export interface AutonomyRule {
  readonly agentId: string | null;
  readonly taskType: TaskType | null;
  readonly level: AutonomyLevel;
}

/** Where a resolved level came from, most specific first (docs/agents.md, "Which setting wins"). */
export type AutonomySource = "agent+task" | "agent" | "task" | "project" | "default";
