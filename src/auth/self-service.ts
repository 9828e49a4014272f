/**
 * What every signed-in account may do to itself: see and end its sessions, create, list and
 * revoke its personal access tokens. Every function takes `account`, the door of the caller's own
 * account (Principal.accountScope), and reads only the principal's own user in it.
 */
import type { TenantDb } from "../db/tenant-db.js";
import type { SessionRecord } from "../db/repositories/sessions.js";
import type { PersonalTokenRecord } from "../db/repositories/personal-tokens.js";
import { DomainError } from "../errors.js";
import { projectAccess } from "./project-access.js";
import { refuseAgents } from "./autonomy.js";
import {
  assertCanIssue,
  createPersonalToken,
  PersonalTokenError,
  tokenCreatedEvent,
  tokenRevokedEvent,
  type TokenRequest,
} from "./personal-tokens.js";
import { actorOf, type Principal } from "./principal.js";

export interface SessionView {
  readonly id: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly lastUsedAt: string;
  readonly revokedAt: string | null;
  readonly client: string;
  readonly current: boolean;
}

/** A token as its owner sees it: everything but the hash and the owner ids. */
export type TokenView = Omit<PersonalTokenRecord, "tenantId" | "userId" | "tokenHash">;

function sessionView(session: SessionRecord, principal: Principal): SessionView {
  const current = principal.credential.kind === "session" && principal.credential.sessionId === session.id;
  return {
    id: session.id,
    createdAt: session.createdAt,
    expiresAt: session.expiresAt,
    lastUsedAt: session.lastUsedAt,
    revokedAt: session.revokedAt,
    client: session.client,
    current,
  };
}

export function tokenView(token: PersonalTokenRecord): TokenView {
  return {
    id: token.id,
    name: token.name,
    scopes: token.scopes,
    projectId: token.projectId,
    createdAt: token.createdAt,
    expiresAt: token.expiresAt,
    lastUsedAt: token.lastUsedAt,
    revokedAt: token.revokedAt,
  };
}

export function ownSessions(account: TenantDb, principal: Principal): SessionView[] {
  return account.sessions.listForUser(principal.userId).map((s) => sessionView(s, principal));
}

export async function endOwnSession(account: TenantDb, principal: Principal, sessionId: string): Promise<void> {
  refuseAgents(principal, "end sessions"); // an agent has none: it acts through tokens a tenant admin issues
  const session = account.sessions.get(sessionId);
  if (!session || session.userId !== principal.userId) throw new DomainError("not-found", "no such session");
  await account.write((tx) => {
    tx.sessions.revoke(sessionId, "ended by user", tx.now);
    tx.audit({
      event: "auth.session_revoked",
      sensitivity: "security",
      severity: "info",
      tenantId: principal.tenantId,
      actor: actorOf(principal),
      payload: { sessionId },
    });
  });
}

export function ownTokens(account: TenantDb, principal: Principal): TokenView[] {
  return account.personalTokens.listForUser(principal.userId).map(tokenView);
}

/**
 * A project restriction must name a project the owner can enter (its existence is otherwise not
 * revealed). A customer account lives in the tenant whose data it reaches (authentication mints
 * both scopes for the same tenant and actor), so its account door is that tenant's door.
 */
function checkProjectRestriction(account: TenantDb, principal: Principal, projectId: string | null): void {
  if (projectId === null) return;
  if (!principal.tenantScope) throw new DomainError("rejected", "platform accounts have no projects");
  projectAccess(account, principal, projectId);
}

export async function createOwnToken(
  account: TenantDb,
  principal: Principal,
  request: TokenRequest,
): Promise<{ token: string; info: TokenView }> {
  refuseAgents(principal, "create access tokens"); // no self-elevation (docs/agents.md)
  assertCanIssue(principal); // before the project check, which could otherwise answer first
  checkProjectRestriction(account, principal, request.projectId);
  try {
    const owner = {
      tenantId: principal.tenantId,
      userId: principal.userId,
      kind: principal.actorKind,
      scopes: principal.scopes,
    };
    const created = await createPersonalToken(account, owner, principal, request, new Date(), (record) =>
      tokenCreatedEvent(principal, record),
    );
    return { token: created.token, info: tokenView(created.record) };
  } catch (error) {
    if (error instanceof PersonalTokenError) throw new DomainError("rejected", error.message);
    throw error;
  }
}

export async function revokeOwnToken(account: TenantDb, principal: Principal, tokenId: string): Promise<void> {
  refuseAgents(principal, "revoke access tokens");
  const token = account.personalTokens.get(tokenId);
  if (!token || token.userId !== principal.userId) throw new DomainError("not-found", "no such token");
  await account.write((tx) => {
    tx.personalTokens.revoke(principal.userId, tokenId, tx.now);
    tx.audit(tokenRevokedEvent(principal, principal.tenantId, tokenId));
  });
}
