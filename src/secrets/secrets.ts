/**
 * Tenant secrets: credentials the server uses on a tenant's behalf, such as an external LLM
 * provider's API key (DESIGN.md "AI"; datasheet section 6).
 *
 * Write-only: a tenant admin creates, rotates and deletes a secret, and sees its metadata, but
 * no function here returns a value to a caller outside the server. The value is sealed with the
 * tenant's data key, bound to (tenant, tenant_secrets, value, row id), and opened only inside
 * `useSecret`, for the duration of the callback it is handed to. Nothing caches it.
 * See docs/secrets.md for the guarantees and the threat model.
 */
import { randomUUID } from "node:crypto";
import type { EventSink } from "../audit/events.js";
import { actorOf, type Principal } from "../auth/principal.js";
import type { CryptoService, FieldRef } from "../crypto/index.js";
import type { SecretRecord } from "../db/repositories/secrets.js";
import type { TenantDb, TenantTx } from "../db/tenant-db.js";
import { DomainError } from "../errors.js";

export interface SecretDeps {
  readonly crypto: CryptoService;
  readonly events: EventSink;
}

/** Identifiers, not prose: they are stored and audited in plaintext, so they must never carry a secret. */
export const SECRET_NAME_PATTERN = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
export const SECRET_NAME_RULE =
  "1-63 characters: lowercase letters, digits, '_', '.', '-', starting with a letter or digit";
/** Measured in UTF-8 bytes, the size the value has on the wire to a provider. */
export const SECRET_VALUE_MAX_BYTES = 8192;
export const SECRET_DESCRIPTION_MAX_CHARS = 500;

/** What anyone outside the server ever learns about a secret: metadata. No value, no hint, no length. */
export interface SecretView {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly version: number;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly rotatedBy: string;
  readonly rotatedAt: string;
}

export interface NewSecret {
  readonly name: string;
  readonly value: string;
  readonly description?: string;
}

export interface SecretRotationInput {
  readonly value: string;
  readonly description?: string;
}

const NOT_FOUND = "no such secret";

function valueRef(id: string): FieldRef {
  return { table: "tenant_secrets", column: "value", rowId: id };
}

function descriptionRef(id: string): FieldRef {
  return { table: "tenant_secrets", column: "description", rowId: id };
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME_PATTERN.test(name);
}

/**
 * Why a value is refused, or undefined. The message never quotes the value. Any UTF-8 text is
 * accepted except NUL (no credential contains one, and the C strings and HTTP headers a value
 * ends up in would cut it there) and lone surrogates (they cannot be encoded as UTF-8, so the
 * stored value would silently differ from the one sent).
 */
export function secretValueProblem(value: string): string | undefined {
  if (value.length === 0) return "must not be empty";
  if (/\p{Cs}/u.test(value)) return "must be well-formed Unicode text (no lone surrogates)";
  if (value.includes("\u0000")) return "must not contain NUL characters";
  if (Buffer.byteLength(value, "utf8") > SECRET_VALUE_MAX_BYTES)
    return `must be at most ${SECRET_VALUE_MAX_BYTES} bytes of UTF-8`;
  return undefined;
}

function checkValue(value: string): void {
  const problem = secretValueProblem(value);
  if (problem) throw new DomainError("rejected", `value ${problem}`);
}

function checkDescription(description: string | undefined): void {
  if (description !== undefined && description.length > SECRET_DESCRIPTION_MAX_CHARS)
    throw new DomainError("rejected", `description must be at most ${SECRET_DESCRIPTION_MAX_CHARS} characters`);
}

/**
 * Defence in depth behind the route's `secrets:manage`: that scope is held only by tenant admins
 * and cannot ride on a project-restricted token, so agents (whose tokens always are) never get
 * here; the checks restate it for any other caller of this module.
 */
function assertManager(principal: Principal): void {
  if (!principal.scopes.has("secrets:manage") || principal.projectId !== null || principal.actorKind !== "human") {
    throw new DomainError("forbidden", "only a tenant admin, signed in as a person, manages secrets");
  }
}

/** A name that breaks the rule cannot exist: not found, like a malformed id. */
function existing(tenantDb: TenantDb, name: string): SecretRecord {
  const record = isSecretName(name) ? tenantDb.secrets.get(name) : undefined;
  if (!record) throw new DomainError("not-found", NOT_FOUND);
  return record;
}

async function view(deps: Pick<SecretDeps, "crypto">, record: SecretRecord): Promise<SecretView> {
  const description = await deps.crypto.decryptField(record.tenantId, descriptionRef(record.id), record.descriptionEnc);
  return {
    id: record.id,
    name: record.name,
    description: description === "" ? null : description,
    version: record.version,
    createdBy: record.createdBy,
    createdAt: record.createdAt,
    rotatedBy: record.rotatedBy,
    rotatedAt: record.rotatedAt,
  };
}

function audit(
  tx: TenantTx,
  principal: Principal,
  event: "secret.created" | "secret.rotated" | "secret.deleted",
  record: { id: string; name: string },
  version: number,
): void {
  // Name, id and version only: the value and description never enter the audit trail.
  tx.audit({
    event,
    sensitivity: "security",
    severity: "info",
    tenantId: tx.tenantId,
    actor: actorOf(principal),
    payload: { secretId: record.id, name: record.name, version },
  });
}

export async function listSecrets(
  deps: Pick<SecretDeps, "crypto">,
  tenantDb: TenantDb,
  principal: Principal,
  after: string | undefined,
  limit: number,
): Promise<SecretView[]> {
  assertManager(principal);
  return Promise.all(tenantDb.secrets.list(after, limit).map((record) => view(deps, record)));
}

/** Every secret's metadata, page by page: for the tenant's GDPR export (values are never exported). */
export async function* secretMetadata(
  deps: Pick<SecretDeps, "crypto">,
  tenantDb: TenantDb,
  pageSize: number,
): AsyncGenerator<SecretView> {
  for (let after: string | undefined; ;) {
    const page = tenantDb.secrets.list(after, pageSize);
    for (const record of page) yield view(deps, record);
    if (page.length < pageSize) return;
    after = page.at(-1)?.name;
  }
}

/** Stores a new secret at version 1; a name already taken in the tenant is a conflict. */
export async function createSecret(
  deps: SecretDeps,
  tenantDb: TenantDb,
  principal: Principal,
  input: NewSecret,
): Promise<SecretView> {
  assertManager(principal);
  if (!isSecretName(input.name)) throw new DomainError("rejected", `name must be ${SECRET_NAME_RULE}`);
  checkValue(input.value);
  checkDescription(input.description);
  const conflict = (): DomainError =>
    new DomainError("conflict", `a secret named ${input.name} exists; rotate it with PUT /api/secrets/${input.name}`);
  if (tenantDb.secrets.get(input.name)) throw conflict();
  const id = randomUUID();
  const valueEnc = await deps.crypto.encryptField(tenantDb.tenantId, valueRef(id), input.value);
  const descriptionEnc = await deps.crypto.encryptField(tenantDb.tenantId, descriptionRef(id), input.description ?? "");
  const record = await tenantDb.write((tx) => {
    // Checked again inside the transaction: a concurrent create of the same name loses here, not on the UNIQUE index.
    if (tx.secrets.get(input.name)) throw conflict();
    const created = {
      id,
      name: input.name,
      valueEnc,
      descriptionEnc,
      version: 1,
      createdBy: principal.userId,
      createdAt: tx.now,
      rotatedBy: principal.userId,
      rotatedAt: tx.now,
    };
    tx.secrets.insert(created);
    audit(tx, principal, "secret.created", created, 1);
    return { ...created, tenantId: tenantDb.tenantId };
  });
  return view(deps, record);
}

/**
 * Replaces the value (and the description, when given): new ciphertext under the same row id,
 * version + 1. `expectedVersion` (If-Match) is optional: a rotation overwrites blindly by design,
 * but a client that wants to detect a concurrent rotation can ask for it.
 */
export async function rotateSecret(
  deps: SecretDeps,
  tenantDb: TenantDb,
  principal: Principal,
  name: string,
  input: SecretRotationInput,
  expectedVersion?: number,
): Promise<SecretView> {
  assertManager(principal);
  const current = existing(tenantDb, name);
  checkValue(input.value);
  checkDescription(input.description);
  const stale = (): DomainError =>
    new DomainError(
      "precondition-failed",
      `the secret changed since version ${expectedVersion ?? current.version}; list it again`,
    );
  if (expectedVersion !== undefined && current.version !== expectedVersion) throw stale();
  // Sealed for the row id, which a rotation never changes: the AAD stays valid for re-encryption.
  const valueEnc = await deps.crypto.encryptField(tenantDb.tenantId, valueRef(current.id), input.value);
  const descriptionEnc =
    input.description === undefined
      ? undefined
      : await deps.crypto.encryptField(tenantDb.tenantId, descriptionRef(current.id), input.description);
  await tenantDb.write((tx) => {
    // Deleted (or deleted and re-created under a new id) meanwhile: the ciphertext belongs to no row any more.
    if (tx.secrets.get(name)?.id !== current.id) throw new DomainError("not-found", NOT_FOUND);
    const version = tx.secrets.rotate(
      current.id,
      expectedVersion,
      { valueEnc, ...(descriptionEnc ? { descriptionEnc } : {}), rotatedBy: principal.userId },
      tx.now,
    );
    if (version === undefined) throw stale();
    audit(tx, principal, "secret.rotated", current, version);
  });
  return view(deps, existing(tenantDb, name));
}

/** Deletes the secret; SQLite's secure_delete overwrites the freed ciphertext. */
export async function deleteSecret(
  deps: SecretDeps,
  tenantDb: TenantDb,
  principal: Principal,
  name: string,
): Promise<void> {
  assertManager(principal);
  if (!isSecretName(name)) throw new DomainError("not-found", NOT_FOUND);
  await tenantDb.write((tx) => {
    const gone = tx.secrets.delete(name);
    if (!gone) throw new DomainError("not-found", NOT_FOUND);
    audit(tx, principal, "secret.deleted", gone, gone.version);
  });
}

/**
 * For server code only (an LLM provider call, say), never for a route: opens the secret and
 * hands the plaintext to `fn`, returning what `fn` returns. The value lives in this call's
 * scope and fn's; nothing here keeps it. A JavaScript string cannot be wiped, so "in memory only"
 * means no copy is stored, cached, logged or returned by this module; `fn` must keep to that too
 * (pass the value to the request it authenticates, never into a log, error or response).
 *
 * The TenantDb is proof of an authenticated tenant context, so a secret is only ever opened for
 * the tenant it belongs to. Throws not-found for an unknown name, and the crypto layer's
 * DecryptError if the stored ciphertext does not belong to this row.
 */
export async function useSecret<T>(
  deps: Pick<SecretDeps, "crypto">,
  tenantDb: TenantDb,
  name: string,
  fn: (value: string) => Promise<T>,
): Promise<T> {
  const record = existing(tenantDb, name);
  const value = await deps.crypto.decryptField(tenantDb.tenantId, valueRef(record.id), record.valueEnc);
  return fn(value);
}
