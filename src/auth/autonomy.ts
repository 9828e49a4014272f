/**
 * Agents' autonomy, enforced (issue 16 point 4): every write an agent attempts asks
 * `authorizeWrite` first, in the domain function that makes it (src/graph), so the same rules
 * hold over the API and over MCP. People are not governed by autonomy; their scopes and project
 * role decide, as before. The levels, the task types and which setting wins: docs/agents.md.
 *
 * What an agent may never do at any level (no self-elevation, issue 16 point 5) is refused by
 * `refuseAgents`: autonomy, scopes, roles, memberships, tokens, settings, secrets.
 */
import type { TenantReads } from "../db/tenant-repositories.js";
import { DomainError } from "../errors.js";
import {
  CREATING_TASKS,
  DEFAULT_AUTONOMY_LEVEL,
  levelRank,
  type AutonomyLevel,
  type AutonomyRule,
  type AutonomySource,
  type TaskType,
} from "../vocabulary/autonomy.js";
import type { Principal } from "./principal.js";

/** The level that applies, and which setting it came from. */
export interface ResolvedAutonomy {
  readonly level: AutonomyLevel;
  readonly source: AutonomySource;
}

/** What a permitted write must do: what `authorizeWrite` answers (a refusal throws). */
export interface WriteGrant {
  /** The level the agent acted at; null for a person. */
  readonly level: AutonomyLevel | null;
  /** Keep what is created as a draft that takes effect only when a human approves it (Assist). */
  readonly draft: boolean;
  /**
   * Who to tell, for the audit event of the write (Delegate): the notifications are made from
   * that event's audit row. Undefined when nobody is told.
   */
  readonly notify?: { readonly userIds: readonly string[]; readonly message: string };
}

const HUMAN: WriteGrant = { level: null, draft: false };

/** Most specific first: agent and task type, agent, task type, project default (docs/agents.md). */
function specificity(rule: AutonomyRule): AutonomySource {
  if (rule.agentId !== null) return rule.taskType !== null ? "agent+task" : "agent";
  return rule.taskType !== null ? "task" : "project";
}

const ORDER: readonly AutonomySource[] = ["agent+task", "agent", "task", "project"];

/** The most specific of the rules that apply; the built-in default (Observe) when none does. */
export function mostSpecific(rules: readonly AutonomyRule[]): ResolvedAutonomy {
  for (const source of ORDER) {
    const rule = rules.find((r) => specificity(r) === source);
    if (rule) return { level: rule.level, source };
  }
  return { level: DEFAULT_AUTONOMY_LEVEL, source: "default" };
}

/** The level of one agent for one task type in one project. */
export function resolveAutonomy(
  reads: Pick<TenantReads, "autonomyRules">,
  projectId: string,
  agentId: string,
  taskType: TaskType,
): ResolvedAutonomy {
  return mostSpecific(reads.autonomyRules.applicable(projectId, agentId, taskType));
}

const LEVEL_NAMES: Record<AutonomyLevel, string> = {
  observe: "Observe",
  advise: "Advise",
  assist: "Assist",
  delegate: "Delegate",
  automate: "Automate",
};

const LEVEL_ALLOWS: Record<AutonomyLevel, string> = {
  observe: "it may only read",
  advise: "it may only read and comment",
  assist: "it may only read, comment and create drafts that a human approves",
  delegate: "",
  automate: "",
};

function refused(level: AutonomyLevel, taskType: TaskType): DomainError {
  return new DomainError(
    "forbidden",
    `this agent's autonomy in the project is ${LEVEL_NAMES[level]} for ${taskType}: ${LEVEL_ALLOWS[level]}`,
    { autonomyLevel: level, taskType },
  );
}

/** What a level does with a task type: refuse it, keep it as a draft, or perform it (telling people or not). */
export type WriteOutcome = "refused" | "draft" | "performed-notified" | "performed";

/** The rule of the levels, in one place (docs/agents.md, "Autonomy levels"). */
export function outcomeOf(level: AutonomyLevel, taskType: TaskType): WriteOutcome {
  const rank = levelRank(level);
  if (taskType === "comment") return rank >= levelRank("advise") ? "performed" : "refused";
  if (rank < levelRank("assist")) return "refused";
  if (rank === levelRank("assist")) return CREATING_TASKS.has(taskType) ? "draft" : "refused";
  return level === "delegate" ? "performed-notified" : "performed";
}

/**
 * What the principal's write of `taskType` in the project would do, without refusing: for
 * callers that offer only what an agent may do (the MCP server's tools/list). A person: "performed".
 */
export function writeOutcome(
  reads: Pick<TenantReads, "autonomyRules">,
  principal: Pick<Principal, "actorKind" | "userId">,
  projectId: string,
  taskType: TaskType,
): { readonly level: AutonomyLevel | null; readonly outcome: WriteOutcome } {
  if (principal.actorKind !== "agent") return { level: null, outcome: "performed" };
  const { level } = resolveAutonomy(reads, projectId, principal.userId, taskType);
  return { level, outcome: outcomeOf(level, taskType) };
}

/**
 * Whether the principal may make a write of `taskType` in the project, and how: call it before
 * the write, after the project access check, and apply the grant (draft, notify) to the write
 * and its audit event. Throws a forbidden DomainError (403, naming the level and the task type)
 * when the agent's level does not allow it. A person always gets a plain grant.
 *
 * - Observe: refused. Advise: comments only. Assist: comments; creations become drafts; the rest
 *   refused. Delegate: performed, and the project's human overseers are told (comments: not
 *   told, they change nothing). Automate: performed, nobody told.
 */
export function authorizeWrite(
  reads: Pick<TenantReads, "autonomyRules">,
  principal: Pick<Principal, "actorKind" | "userId">,
  projectId: string,
  taskType: TaskType,
): WriteGrant {
  const { level, outcome } = writeOutcome(reads, principal, projectId, taskType);
  if (level === null) return HUMAN;
  switch (outcome) {
    case "refused":
      throw refused(level, taskType);
    case "draft":
      return { level, draft: true };
    case "performed":
      return { level, draft: false };
    case "performed-notified":
      return {
        level,
        draft: false,
        notify: {
          userIds: reads.autonomyRules.overseers(projectId),
          message: `Agent ${principal.userId} did ${taskType} in project ${projectId} on its own (Delegate); the audit trail has it.`,
        },
      };
  }
}

/** What the audit event of a governed write adds: the level in its payload, the people to tell. */
export function grantEventFields(grant: WriteGrant): {
  readonly payload: Readonly<Record<string, string | boolean>>;
  readonly notify?: { readonly userIds: readonly string[]; readonly message: string };
} {
  const payload = {
    ...(grant.level !== null ? { autonomyLevel: grant.level } : {}),
    ...(grant.draft ? { draft: true } : {}),
  };
  return grant.notify && grant.notify.userIds.length > 0 ? { payload, notify: grant.notify } : { payload };
}

/**
 * No self-elevation: what only a person may do, whatever the agent's scopes, role or autonomy
 * (autonomy levels, scopes, roles, memberships, tokens, settings, secrets; approving a draft).
 */
export function refuseAgents(principal: Pick<Principal, "actorKind">, action: string): void {
  if (principal.actorKind === "agent")
    throw new DomainError("forbidden", `an agent cannot ${action}: only a person can`);
}
