/**
 * A user's email and name are tenant content: encrypted with the tenant's data key, bound to
 * their row (AAD tenant|users|column|id). The email is found at login through a blind index.
 */
import type { CryptoService } from "../crypto/index.js";
import type { UserRecord } from "../db/repositories/users.js";

export interface Profile {
  readonly email: string;
  readonly name: string;
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function emailLookup(crypto: CryptoService, tenantId: string, email: string): Promise<Uint8Array> {
  return crypto.blindIndex(tenantId, "users.email", normalizeEmail(email));
}

export async function sealProfile(
  crypto: CryptoService,
  tenantId: string,
  userId: string,
  profile: Profile,
): Promise<Pick<UserRecord, "emailLookup" | "emailEnc" | "nameEnc">> {
  const email = normalizeEmail(profile.email);
  return {
    emailLookup: await emailLookup(crypto, tenantId, email),
    emailEnc: await crypto.encryptField(tenantId, { table: "users", column: "email", rowId: userId }, email),
    nameEnc: await sealName(crypto, tenantId, userId, profile.name),
  };
}

export function sealName(crypto: CryptoService, tenantId: string, userId: string, name: string): Promise<Uint8Array> {
  return crypto.encryptField(tenantId, { table: "users", column: "name", rowId: userId }, name);
}

export async function openProfile(crypto: CryptoService, user: UserRecord): Promise<Profile> {
  return {
    email: await crypto.decryptField(user.tenantId, { table: "users", column: "email", rowId: user.id }, user.emailEnc),
    name: await openName(crypto, user),
  };
}

export function openName(
  crypto: CryptoService,
  user: Pick<UserRecord, "tenantId" | "id" | "nameEnc">,
): Promise<string> {
  return crypto.decryptField(user.tenantId, { table: "users", column: "name", rowId: user.id }, user.nameEnc);
}
