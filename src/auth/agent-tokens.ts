/**
 * Tokens for agents. An agent has no password and cannot sign in: a tenant admin issues its
 * access tokens, each restricted to one project the agent is a member of, with no more than the
 * agent's role grants. The token is shown once, to the admin, to hand to the agent.
 */
import type { TenantDb } from "../db/tenant-db.js";
import type { UserRecord } from "../db/repositories/users.js";
import { DomainError } from "../errors.js";
import {
  createPersonalToken,
  PersonalTokenError,
  tokenCreatedEvent,
  tokenRevokedEvent,
  type TokenRequest,
} from "./personal-tokens.js";
import type { Principal } from "./principal.js";
import { refuseAgents } from "./autonomy.js";
import { HUMAN_ONLY_SCOPES, scopesFor } from "../vocabulary/roles.js";
import { tokenView, type TokenView } from "./self-service.js";

function agentOf(tenantDb: TenantDb, agentId: string): UserRecord {
  const agent = tenantDb.users.get(agentId);
  if (!agent) throw new DomainError("not-found", "no such user");
  if (agent.kind !== "agent")
    throw new DomainError("rejected", "tokens are issued this way only to agents; people create their own");
  return agent;
}

export async function issueAgentToken(
  tenantDb: TenantDb,
  actor: Principal,
  agentId: string,
  request: TokenRequest,
): Promise<{ token: string; info: TokenView }> {
  refuseAgents(actor, "issue access tokens");
  const agent = agentOf(tenantDb, agentId);
  if (agent.status !== "active") throw new DomainError("rejected", "the agent is disabled");
  const humanOnly = request.scopes.filter((s) => HUMAN_ONLY_SCOPES.has(s));
  if (humanOnly.length > 0)
    throw new DomainError(
      "rejected",
      `an agent's token never carries ${humanOnly.join(", ")}: sign-offs are a person's`,
    );
  if (request.projectId !== null && !tenantDb.projects.membership(request.projectId, agentId)) {
    throw new DomainError("rejected", "the agent is not a member of that project; add it first");
  }
  try {
    const owner = {
      tenantId: tenantDb.tenantId,
      userId: agentId,
      kind: "agent" as const,
      scopes: scopesFor(agent.role, agent.auditor, "agent"),
    };
    const created = await createPersonalToken(tenantDb, owner, actor, request, new Date(), (record) =>
      tokenCreatedEvent(actor, record, agentId),
    );
    return { token: created.token, info: tokenView(created.record) };
  } catch (error) {
    if (error instanceof PersonalTokenError) throw new DomainError("rejected", error.message);
    throw error;
  }
}

export function agentTokens(tenantDb: TenantDb, agentId: string): TokenView[] {
  return tenantDb.personalTokens.listForUser(agentOf(tenantDb, agentId).id).map(tokenView);
}

export async function revokeAgentToken(
  tenantDb: TenantDb,
  actor: Principal,
  agentId: string,
  tokenId: string,
): Promise<void> {
  refuseAgents(actor, "revoke access tokens");
  agentOf(tenantDb, agentId);
  await tenantDb.write((tx) => {
    if (!tx.personalTokens.revoke(agentId, tokenId, tx.now)) throw new DomainError("not-found", "no such token");
    tx.audit(tokenRevokedEvent(actor, tenantDb.tenantId, tokenId, agentId));
  });
}
