/**
 * Agents' autonomy rules per project (src/auth/autonomy.ts resolves them). Every statement binds
 * tenant_id; a NULL agent or task type is the rule for "any".
 */
import type BetterSqlite3 from "better-sqlite3";
import type { AutonomyLevel, AutonomyRule, TaskType } from "../../vocabulary/autonomy.js";
import { statement } from "../statements.js";

export interface AutonomyRuleRecord extends AutonomyRule {
  readonly projectId: string;
  readonly setBy: string;
  readonly setAt: string;
}

interface Row {
  project_id: string;
  agent_id: string | null;
  task_type: TaskType | null;
  level: AutonomyLevel;
  set_by: string;
  set_at: string;
}

const COLUMNS = "project_id, agent_id, task_type, level, set_by, set_at";

function toRecord(row: Row): AutonomyRuleRecord {
  return {
    projectId: row.project_id,
    agentId: row.agent_id,
    taskType: row.task_type,
    level: row.level,
    setBy: row.set_by,
    setAt: row.set_at,
  };
}

/** One tenant's autonomy rules: the tenant id is bound at construction and in every statement. */
export class AutonomyRuleRepository {
  /** What a read handle (TenantDb) may call. */
  static readonly reads = ["forProject", "applicable", "overseers"] as const;

  constructor(
    private readonly handle: BetterSqlite3.Database,
    readonly tenantId: string,
  ) {}

  /** Every rule of a project, the project default first, then by agent and task type. */
  forProject(projectId: string): AutonomyRuleRecord[] {
    return statement<[string, string], Row>(
      this.handle,
      `SELECT ${COLUMNS} FROM autonomy_rules WHERE tenant_id = ? AND project_id = ? ` +
        "ORDER BY coalesce(agent_id, ''), coalesce(task_type, '')",
    )
      .all(this.tenantId, projectId)
      .map(toRecord);
  }

  /** The rules that apply to one agent doing one task type in the project (at most four). */
  applicable(projectId: string, agentId: string, taskType: TaskType): AutonomyRuleRecord[] {
    return statement<[string, string, string, string], Row>(
      this.handle,
      `SELECT ${COLUMNS} FROM autonomy_rules WHERE tenant_id = ? AND project_id = ? ` +
        "AND (agent_id IS NULL OR agent_id = ?) AND (task_type IS NULL OR task_type = ?)",
    )
      .all(this.tenantId, projectId, agentId, taskType)
      .map(toRecord);
  }

  /**
   * The people who see what a Delegate agent did in the project: the tenant's active human
   * tenant admins and the project's active human editors.
   */
  overseers(projectId: string): string[] {
    return statement<[string, string, string], { id: string }>(
      this.handle,
      "SELECT u.id FROM users u WHERE u.tenant_id = ? AND u.kind = 'human' AND u.status = 'active' AND " +
        "(u.role = 'tenant_admin' OR u.id IN (SELECT m.user_id FROM project_members m " +
        "WHERE m.tenant_id = ? AND m.project_id = ? AND m.role = 'editor')) ORDER BY u.id",
    )
      .all(this.tenantId, this.tenantId, projectId)
      .map((r) => r.id);
  }

  /** Replaces every rule of the project with `rules` (an empty list leaves the built-in default). */
  replace(projectId: string, rules: readonly AutonomyRule[], setBy: string, now: string): void {
    statement(this.handle, "DELETE FROM autonomy_rules WHERE tenant_id = ? AND project_id = ?").run(
      this.tenantId,
      projectId,
    );
    const insert = statement(
      this.handle,
      `INSERT INTO autonomy_rules (tenant_id, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const rule of rules) insert.run(this.tenantId, projectId, rule.agentId, rule.taskType, rule.level, setBy, now);
  }
}
