/**
 * A signed-in person changes their own password. The current password is
 * required and checked like a sign-in: the same throttle counters, so this route is no way
 * around the sign-in's back-off. Afterwards every OTHER session of the user ends (a thief's
 * session with it); the caller's own session stays. Personal access tokens stay: they are
 * credentials the user made on purpose, each with its own expiry; the answer says how many
 * remain so the user can review them (GET /api/tokens).
 */
import type { CryptoService } from "../crypto/index.js";
import type { Database } from "../db/db.js";
import { DomainError } from "../errors.js";
import type { EventSink } from "../audit/events.js";
import { checkPassword } from "./accounts.js";
import { refuseAgents } from "./autonomy.js";
import type { PasswordHasher } from "./passwords.js";
import { actorOf, type Principal } from "./principal.js";
import { openProfile } from "./profiles.js";
import { accountRef, throttleKeys, type LoginThrottle } from "./throttle.js";

export interface PasswordFlowDeps {
  readonly db: Database;
  readonly crypto: CryptoService;
  readonly passwords: PasswordHasher;
  readonly events: EventSink;
  readonly throttle: LoginThrottle;
  readonly now: () => Date;
  /** VECTO_ROOT_RECOVERY: a recovery token for the platform root (src/auth/root-recovery.ts) is issued and accepted only while true. */
  readonly rootRecovery: boolean;
}

export interface PasswordChange {
  readonly currentPassword: string;
  readonly newPassword: string;
}

export interface PasswordChanged {
  readonly sessionsEnded: number;
  readonly personalTokensKept: number;
}

export async function changeOwnPassword(
  deps: PasswordFlowDeps,
  principal: Principal,
  change: PasswordChange,
  address: string,
): Promise<PasswordChanged> {
  refuseAgents(principal, "change a password"); // an agent has none, and changes nothing about itself
  const { events } = deps;
  const account = deps.db.forTenant(principal.accountScope);
  const user = account.users.get(principal.userId);
  if (!user) throw new DomainError("invalid-credentials", "the account no longer exists");
  if (user.kind !== "human" || user.passwordHash === null)
    throw new DomainError("rejected", "this account has no password");
  const actor = actorOf(principal);
  const keys = throttleKeys(principal.tenantId, accountRef(user.emailLookup), address);
  const wait = deps.throttle.retryAfter(keys);
  if (wait > 0) {
    events.emit({
      event: "auth.password_change_failed",
      sensitivity: "security",
      severity: "warn",
      tenantId: principal.tenantId,
      actor,
      payload: { address, reason: "throttled", retryAfterSeconds: wait },
    });
    throw new DomainError("throttled", `too many failed attempts; try again in ${wait} seconds`, {
      retryAfterSeconds: wait,
    });
  }
  if (!(await deps.passwords.verify(user.passwordHash, change.currentPassword)).ok) {
    await deps.throttle.failure(keys);
    events.emit({
      event: "auth.password_change_failed",
      sensitivity: "security",
      severity: "warn",
      tenantId: principal.tenantId,
      actor,
      payload: { address, reason: "wrong current password" },
    });
    // 403, not 401: the bearer credential is fine; a client must not take this for a sign-out.
    throw new DomainError("forbidden", "the current password is wrong");
  }
  await deps.throttle.success(keys);
  if (change.newPassword === change.currentPassword)
    throw new DomainError("rejected", "password must differ from the current one");
  checkPassword(change.newPassword, await openProfile(deps.crypto, user));
  const hash = await deps.passwords.hash(change.newPassword);
  const keep = principal.credential.kind === "session" ? principal.credential.sessionId : null;
  const sessionsEnded = await account.write((tx) => {
    tx.users.update(user.id, { passwordHash: hash }, tx.now);
    const ended =
      keep === null
        ? tx.sessions.revokeAllForUser(user.id, "password changed", tx.now)
        : tx.sessions.revokeOthersForUser(user.id, keep, "password changed", tx.now);
    tx.audit({
      event: "auth.password_changed",
      sensitivity: "security",
      severity: "info",
      tenantId: principal.tenantId,
      actor,
      payload: { address, sessionsEnded: ended, keptSession: keep },
      notify: {
        userIds: [user.id],
        message:
          "Your password was changed and your other sessions were ended. If it was not you, tell your administrator.",
      },
    });
    return ended;
  });
  const now = deps.now().getTime();
  const personalTokensKept = account.personalTokens
    .listForUser(user.id)
    .filter((t) => t.revokedAt === null && Date.parse(t.expiresAt) > now).length;
  return { sessionsEnded, personalTokensKept };
}
