/**
 * Personal access tokens: `vct_` + 43 random base62 characters + a 6-character CRC32 checksum
 * (so secret scanners can recognise a token offline without a database), stored as SHA-256,
 * shown once, always expiring. A token carries a subset of its owner's scopes and is either
 * tenant-wide or restricted to one project; agents' tokens are restricted by default.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { crc32 } from "node:zlib";
import type { CredentialLookup } from "../db/repositories/credential-lookup.js";
import type { TenantDb } from "../db/tenant-db.js";
import type { DomainEvent } from "../vocabulary/events.js";
import type { PersonalTokenRecord } from "../db/repositories/personal-tokens.js";
import type { ActorKind } from "../vocabulary/events.js";
import { DomainError } from "../errors.js";
import { actorOf, type Principal } from "./principal.js";
import { PROJECT_SCOPES, type Scope } from "../vocabulary/roles.js";
import { secretHash } from "./opaque-secrets.js";

const PREFIX = "vct_";
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_LENGTH = 43; // > 256 bits of base62
const CHECKSUM_LENGTH = 6;
export const MAX_TOKEN_DAYS = 366;

function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62]; // 248 = 4 * 62: no modulo bias
    }
  }
  return out;
}

function base62(value: number, width: number): string {
  let out = "";
  let n = value;
  for (let i = 0; i < width; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

function checksum(body: string): string {
  return base62(crc32(PREFIX + body) >>> 0, CHECKSUM_LENGTH);
}

/** True when the string has the token shape and a matching checksum (typos and truncations fail here, before any lookup). */
export function isWellFormedToken(token: string): boolean {
  const match = /^vct_([0-9A-Za-z]{43})([0-9A-Za-z]{6})$/.exec(token);
  return match !== null && checksum(match[1] as string) === match[2];
}

export function newPersonalToken(): string {
  const body = randomBase62(BODY_LENGTH);
  return PREFIX + body + checksum(body);
}

export interface CreatedToken {
  readonly token: string;
  readonly record: PersonalTokenRecord;
}

export interface TokenRequest {
  readonly name: string;
  readonly scopes: readonly Scope[];
  readonly projectId: string | null;
  readonly expiresAt: Date;
}

export class PersonalTokenError extends Error {
  override readonly name = "PersonalTokenError";
}

/** Only a signed-in session issues tokens: an access token cannot mint another. */
export function assertCanIssue(issuer: Principal): void {
  if (issuer.credential.kind === "access-token")
    throw new DomainError("forbidden", "an access token cannot create another access token");
}

/** Whose token it is: a user and the scopes it holds now. */
export interface TokenOwner {
  readonly tenantId: string;
  readonly userId: string;
  readonly kind: ActorKind;
  readonly scopes: ReadonlySet<Scope>;
}

/**
 * Creates a token for `owner`, never with more than the owner holds now. The issuer must have
 * signed in: an access token cannot mint another (a leaked token must not be able to renew itself).
 */
/** `event` is the audit event of the issue, recorded in the insert's transaction: it commits with the token, or neither does. `account`: the owner's tenant. */
export async function createPersonalToken(
  account: TenantDb,
  owner: TokenOwner,
  issuer: Principal,
  request: TokenRequest,
  now: Date,
  event: (token: PersonalTokenRecord) => DomainEvent,
): Promise<CreatedToken> {
  assertCanIssue(issuer);
  const beyondProject = request.projectId === null ? [] : request.scopes.filter((s) => !PROJECT_SCOPES.has(s));
  if (beyondProject.length > 0)
    throw new PersonalTokenError(`a project-restricted token cannot carry ${beyondProject.join(", ")}`);
  const excess = request.scopes.filter((s) => !owner.scopes.has(s));
  if (excess.length > 0)
    throw new PersonalTokenError(`cannot grant scopes the owner does not hold: ${excess.join(", ")}`);
  if (owner.kind === "agent" && request.projectId === null)
    throw new PersonalTokenError("an agent's token must be restricted to one project (projectId)");
  const days = (request.expiresAt.getTime() - now.getTime()) / 86_400_000;
  if (days <= 0) throw new PersonalTokenError("expiresAt must be in the future");
  if (days > MAX_TOKEN_DAYS) throw new PersonalTokenError(`expiresAt must be within ${MAX_TOKEN_DAYS} days`);
  const token = newPersonalToken();
  const stored: PersonalTokenRecord = {
    id: randomUUID(),
    tenantId: owner.tenantId,
    userId: owner.userId,
    name: request.name,
    tokenHash: secretHash(token),
    scopes: [...request.scopes],
    projectId: request.projectId,
    createdAt: now.toISOString(),
    expiresAt: request.expiresAt.toISOString(),
    lastUsedAt: null,
    revokedAt: null,
  };
  await account.write((tx) => {
    tx.personalTokens.insert(stored);
    tx.audit(event(stored));
  });
  return { token, record: stored };
}

/** The stored token for a presented one, if it is well-formed, known, unrevoked and unexpired. */
export function findUsableToken(
  credentials: CredentialLookup,
  token: string,
  now: Date,
): PersonalTokenRecord | undefined {
  if (!isWellFormedToken(token)) return undefined;
  const record = credentials.personalToken(secretHash(token));
  if (!record || record.revokedAt !== null || Date.parse(record.expiresAt) <= now.getTime()) return undefined;
  return record;
}

/** The event of an issued token (a person's own, or an agent's by its admin): ids and restrictions, never the token. */
export function tokenCreatedEvent(issuer: Principal, token: PersonalTokenRecord, forAgent?: string): DomainEvent {
  const restriction: Record<string, string> =
    forAgent === undefined ? { scopes: token.scopes.join(" ") } : { forAgent };
  const payload = { tokenId: token.id, ...restriction, projectId: token.projectId };
  return {
    event: "auth.token_created",
    sensitivity: "security",
    severity: "info",
    tenantId: token.tenantId,
    actor: actorOf(issuer),
    payload,
  };
}

/** The event of a revoked token, recorded by the write that revokes it (tx.audit). */
export function tokenRevokedEvent(
  revoker: Principal,
  tenantId: string,
  tokenId: string,
  forAgent?: string,
): DomainEvent {
  return {
    event: "auth.token_revoked",
    sensitivity: "security",
    severity: "info",
    tenantId,
    actor: actorOf(revoker),
    payload: { tokenId, ...(forAgent === undefined ? {} : { forAgent }) },
  };
}
