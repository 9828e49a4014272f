/**
 * A person's Ed25519 public keys for signed approvals (docs/signing.md): register, list, revoke.
 * Only a person registers one, from a signed-in session: an agent never holds a signing key, and
 * an access token (a project-restricted one, a leaked one) cannot add a key that would then sign
 * as its owner. Revoking is allowed with any credential of the owner: it only takes power away.
 */
import type { SigningKeyRecord } from "../db/repositories/signing-keys.js";
import type { TenantDb } from "../db/tenant-db.js";
import { checkEd25519PublicKey, encodePublicKey, KeyFormatError, keyIdOf, parsePublicKey } from "../crypto/index.js";
import { refuseAgents } from "./autonomy.js";
import { DomainError } from "../errors.js";
import { actorOf, type Principal } from "./principal.js";

export interface SigningKeyView {
  readonly keyId: string;
  readonly name: string;
  /** The raw 32-byte key, base64. */
  readonly publicKey: string;
  readonly createdAt: string;
  readonly revokedAt: string | null;
}

export function signingKeyView(key: SigningKeyRecord): SigningKeyView {
  return {
    keyId: key.id,
    name: key.name,
    publicKey: encodePublicKey(key.publicKey),
    createdAt: key.createdAt,
    revokedAt: key.revokedAt,
  };
}

/** The raw key of a registration: an SPKI PEM or the raw 32 bytes in base64, on the curve and not of small order. */
function usablePublicKey(text: string): Uint8Array {
  try {
    const raw = parsePublicKey(text);
    checkEd25519PublicKey(raw);
    return raw;
  } catch (error) {
    if (error instanceof KeyFormatError) throw new DomainError("rejected", error.message);
    throw error;
  }
}

function assertMayRegister(principal: Principal): void {
  if (principal.actorKind !== "human")
    throw new DomainError("forbidden", "an agent cannot hold a signing key: critical sign-offs are a person's");
  if (principal.credential.kind !== "session")
    throw new DomainError(
      "forbidden",
      "a signing key is registered from a signed-in session, not with an access token",
    );
}

export async function registerSigningKey(
  account: TenantDb,
  principal: Principal,
  request: { readonly name: string; readonly publicKey: string },
): Promise<SigningKeyView> {
  assertMayRegister(principal);
  const publicKey = usablePublicKey(request.publicKey);
  const key = await account.write((tx) => {
    // Once per tenant, revoked or not, whoever holds it: a key names one person, and a revoked key stays revoked.
    if (tx.signingKeys.findByPublicKey(publicKey))
      throw new DomainError("conflict", "this public key is registered already (perhaps revoked); generate a new key");
    const record: SigningKeyRecord = {
      id: keyIdOf(publicKey),
      tenantId: account.tenantId,
      userId: principal.userId,
      name: request.name,
      publicKey,
      createdAt: tx.now,
      revokedAt: null,
    };
    // Two different keys sharing a 64-bit key id: vanishingly rare, refused rather than ambiguous.
    if (tx.signingKeys.get(record.id))
      throw new DomainError("conflict", "a key with this key id exists; generate a new key");
    tx.signingKeys.insert(record);
    tx.audit({
      event: "auth.signing_key_registered",
      sensitivity: "security",
      severity: "info",
      tenantId: account.tenantId,
      actor: actorOf(principal),
      payload: { keyId: record.id, publicKey: encodePublicKey(publicKey) },
    });
    return record;
  });
  return signingKeyView(key);
}

export function ownSigningKeys(account: TenantDb, principal: Principal): SigningKeyView[] {
  return account.signingKeys.listForUser(principal.userId).map(signingKeyView);
}

export async function revokeSigningKey(account: TenantDb, principal: Principal, keyId: string): Promise<void> {
  // An agent never holds a key; it is told so, like on every other route of power.
  refuseAgents(principal, "revoke signing keys");
  await account.write((tx) => {
    if (!tx.signingKeys.revoke(principal.userId, keyId, tx.now))
      throw new DomainError("not-found", "no such signing key of yours that is not revoked");
    tx.audit({
      event: "auth.signing_key_revoked",
      sensitivity: "security",
      severity: "info",
      tenantId: account.tenantId,
      actor: actorOf(principal),
      payload: { keyId },
    });
  });
}
