/**
 * The autonomy settings of a project (`GET/PUT /api/projects/:projectId/autonomy`): read and
 * replaced by a tenant admin who is a person signed in with a tenant-wide credential, never by
 * an agent (no self-elevation) nor through a project-restricted token. Enforcement:
 * src/auth/autonomy.ts.
 */
import type { AutonomyRuleRecord } from "../db/repositories/autonomy-rules.js";
import type { TenantDb } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";
import { DEFAULT_AUTONOMY_LEVEL, type AutonomyLevel, type AutonomyRule } from "../vocabulary/autonomy.js";
import { refuseAgents } from "./autonomy.js";
import { actorOf, type Principal } from "./principal.js";
import { projectAccess } from "./project-access.js";

/** At most this many rules per project: an agent per task type for a few dozen agents. */
export const MAX_AUTONOMY_RULES = 500;

export interface AutonomySettings {
  readonly projectId: string;
  /** The level when no rule applies: an agent may only read until someone grants more. */
  readonly builtInDefault: AutonomyLevel;
  readonly rules: readonly AutonomyRuleRecord[];
}

function requireHumanTenantAdmin(principal: Principal, action: string): void {
  refuseAgents(principal, action);
  if (principal.role !== "tenant_admin" || principal.projectId !== null || !principal.scopes.has("tenant:admin"))
    throw new DomainError("forbidden", `only a tenant admin with a tenant-wide credential may ${action}`);
}

export function getAutonomySettings(tenantDb: TenantDb, principal: Principal, projectId: string): AutonomySettings {
  requireHumanTenantAdmin(principal, "read autonomy settings");
  projectAccess(tenantDb, principal, projectId);
  return { projectId, builtInDefault: DEFAULT_AUTONOMY_LEVEL, rules: tenantDb.autonomyRules.forProject(projectId) };
}

const keyOf = (rule: AutonomyRule): string => `${rule.agentId ?? "*"}:${rule.taskType ?? "*"}`;

function checkRules(tenantDb: TenantDb, rules: readonly AutonomyRule[]): void {
  if (rules.length > MAX_AUTONOMY_RULES)
    throw new DomainError("rejected", `at most ${MAX_AUTONOMY_RULES} autonomy rules per project`);
  const seen = new Set<string>();
  for (const rule of rules) {
    const key = keyOf(rule);
    if (seen.has(key)) throw new DomainError("rejected", `two rules for the same agent and task type (${key})`);
    seen.add(key);
    if (rule.agentId === null) continue;
    const user = tenantDb.users.get(rule.agentId);
    if (!user) throw new DomainError("rejected", `no such agent: ${rule.agentId}`);
    if (user.kind !== "agent")
      throw new DomainError("rejected", `${rule.agentId} is a person: autonomy governs agents only`);
  }
}

/** The rules as the audit event records them: ids, task types and levels, never content. */
function summary(rules: readonly AutonomyRule[]): string {
  return rules.map((r) => `${keyOf(r)}=${r.level}`).join(",");
}

/** Replaces every rule of the project; an empty list leaves agents at the built-in default (Observe). */
export async function putAutonomySettings(
  tenantDb: TenantDb,
  principal: Principal,
  projectId: string,
  rules: readonly AutonomyRule[],
): Promise<AutonomySettings> {
  requireHumanTenantAdmin(principal, "change autonomy levels");
  projectAccess(tenantDb, principal, projectId);
  checkRules(tenantDb, rules);
  await tenantDb.write((tx) => {
    tx.autonomyRules.replace(projectId, rules, principal.userId, tx.now);
    tx.audit({
      event: "autonomy.changed",
      sensitivity: "security",
      severity: "info",
      tenantId: tenantDb.tenantId,
      actor: actorOf(principal),
      payload: { projectId, rules: rules.length, levels: summary(rules) },
    });
  });
  return getAutonomySettings(tenantDb, principal, projectId);
}
