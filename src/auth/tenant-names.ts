/**
 * A tenant's display name is customer content: sealed with the tenant's own data key, bound to
 * its row (AAD tenant|tenants|name|id), like project and user names. Only the slug stays plain:
 * it is how a sign-in names its tenant. Erasing a tenant destroys its keys, so the name goes with
 * them, in backups too.
 *
 * The platform root managing tenants sees their names: the appliance opens them for the
 * management API (GET/POST/PATCH /api/tenants). That is management data the operator needs to
 * tell tenants apart, not graph content, which stays out of the platform root's reach.
 */
import type { EventSink } from "../audit/events.js";
import { isKeyUnavailable, type CryptoService, type FieldRef } from "../crypto/index.js";
import type { Database } from "../db/db.js";
import type { Tenant } from "../db/repositories/tenants.js";

/** A tenant as the API shows it: the name opened. */
export type TenantView = Omit<Tenant, "nameEnc"> & {
  readonly name: string | null;
  /** In a list only: the tenant's key cannot be unwrapped now, so its name is not shown (reading the tenant itself answers 503). */
  readonly keysUnavailable?: true;
};

function nameRef(tenantId: string): FieldRef {
  return { table: "tenants", column: "name", rowId: tenantId };
}

export function sealTenantName(crypto: CryptoService, tenantId: string, name: string): Promise<Uint8Array> {
  return crypto.encryptField(tenantId, nameRef(tenantId), name);
}

export async function tenantView(crypto: CryptoService, tenant: Tenant): Promise<TenantView> {
  const { nameEnc, ...rest } = tenant;
  return { ...rest, name: nameEnc === null ? null : await crypto.decryptField(tenant.id, nameRef(tenant.id), nameEnc) };
}

/**
 * A tenant in the platform root's list. One tenant whose key is unavailable must not hide the
 * others from the operator who has to find and mend it: it is listed, flagged, without its name.
 */
export async function tenantListView(crypto: CryptoService, tenant: Tenant): Promise<TenantView> {
  try {
    return await tenantView(crypto, tenant);
  } catch (error) {
    if (!isKeyUnavailable(error)) throw error;
    const { nameEnc: _sealed, ...rest } = tenant;
    return { ...rest, name: null, keysUnavailable: true };
  }
}

export interface SealDeps {
  readonly db: Database;
  readonly crypto: CryptoService;
  readonly events: EventSink;
}

/**
 * Seals the names that rows from before migration 0011 hold in plaintext (SQL cannot encrypt),
 * and blanks the plaintext, in one audited transaction; then checkpoints the WAL so that no copy
 * of a plaintext name stays in the -wal file (secure_delete zeroes the old cells in the database
 * file). Runs at every start, once the keys are loaded; a no-op once every name is sealed.
 */
export async function sealPlaintextTenantNames(deps: SealDeps): Promise<number> {
  const pending = deps.db.tenants.plaintextNames();
  if (pending.length === 0) return 0;
  const sealed: { id: string; name: string; nameEnc: Uint8Array }[] = [];
  for (const { id, name } of pending) sealed.push({ id, name, nameEnc: await sealTenantName(deps.crypto, id, name) });
  const count = await deps.db.write((tx) => {
    const done = sealed.filter((s) => tx.tenants.sealPlaintextName(s.id, s.name, s.nameEnc)).length;
    deps.events.emit({
      event: "tenant.names_sealed",
      sensitivity: "security",
      severity: "info",
      tenantId: null,
      actor: { type: "system", id: "vecto start" },
      payload: { tenants: done },
    });
    return done;
  });
  deps.db.checkpoint();
  return count;
}
