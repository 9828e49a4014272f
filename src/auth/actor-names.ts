/**
 * Actor names for reading the audit trail (datasheet section 5: "distinguishes human vs agent,
 * names the agent"). The signed event carries the actor's type and id only (its `actor.name` is
 * always null): a person's name written into an append-only, hash-chained log could never be
 * erased. The name is looked up when the log is read, from the user record, where it is sealed
 * with the tenant's key. So erasing a person (which replaces their name with a pseudonym) changes
 * what every later read shows, and the signatures and Merkle proofs are untouched.
 *
 * What a read shows as the name:
 * - human or agent: the user's current name; the pseudonym "Erased user" after an erasure; null
 *   when the user was deleted, or their tenant erased (its users and keys are gone).
 * - system: its id, which is already a name ("vecto audit export", "job:audit-checkpoints").
 * - anonymous (a failed sign-in): null, even when the id names the account that was tried: the
 *   caller was not that person.
 */
import type { ActorNames } from "../audit/export.js";
import type { CryptoService } from "../crypto/index.js";
import { PLATFORM_LOG, type Database } from "../db/db.js";
import { openName } from "./profiles.js";

export type ActorNameDeps = { readonly db: Pick<Database, "tenants" | "tenantReads">; readonly crypto: CryptoService };

/**
 * A resolver for one read (one export stream): each distinct actor costs one user lookup and one
 * decryption, however many of the log's events it appears in.
 */
export function actorNames(deps: ActorNameDeps): ActorNames {
  const known = new Map<string, Promise<string | null>>();
  return {
    nameOf(row) {
      if (row.actorId === null || row.actorType === "anonymous") return Promise.resolve(null);
      if (row.actorType === "system") return Promise.resolve(row.actorId);
      const key = `${row.tenantId}\u0000${row.actorId}`;
      let name = known.get(key);
      if (name === undefined) {
        name = userName(deps, row.tenantId, row.actorId);
        known.set(key, name);
      }
      return name;
    },
  };
}

/**
 * A log's actors are the users of its tenant, or the platform root (who creates and manages
 * tenants, and acts in the installation log). User ids are random UUIDs, so the two never clash.
 */
async function userName(deps: ActorNameDeps, log: string, userId: string): Promise<string | null> {
  const platform = deps.db.tenants.platformTenant()?.id;
  const candidates = [log === PLATFORM_LOG ? undefined : log, platform].filter((t): t is string => t !== undefined);
  for (const tenantId of candidates) {
    const user = deps.db.tenantReads(tenantId).users.get(userId);
    if (user === undefined) continue;
    try {
      return await openName(deps.crypto, user);
    } catch {
      // A name that cannot be opened (keys unavailable) must not stop the audit trail from being read.
      return null;
    }
  }
  return null;
}
