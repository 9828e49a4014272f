/**
 * The backup file format, version 1 (docs/backup.md):
 *
 *   magic "VECTOBK\0" (8) | format version u16 BE | header length u32 BE | header (UTF-8 JSON)
 *   | chunk 0 | chunk 1 | ... | final chunk
 *
 * The header is plain (an operator can read what a backup is without a key) and authenticated:
 * its SHA-256 over every byte before the first chunk is part of each chunk's AAD, so changing any
 * header byte makes every chunk fail. Chunks are described in chunk-cipher.ts.
 *
 * A full backup's header also carries `erasures`: the installation's erasure record as of the
 * backup (erasures.ts). It is in the header, not in the encrypted files, so a restore can read
 * it from every newer backup in a directory by opening one chunk each (embedded-erasures.ts);
 * being part of the header, it is authenticated by that chunk. Backups written before it existed
 * have no such field and stay readable.
 */
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { z } from "zod";
import { erasedContentSchema, erasedTenantSchema } from "./erasures.js";
import { BackupInvalidError } from "./errors.js";

export const MAGIC = Buffer.from("VECTOBK\0", "latin1");
export const FORMAT_VERSION = 1;
/** magic + version + header length */
export const PREFIX_BYTES = MAGIC.length + 2 + 4;
/** Room for the erasure record: about 100,000 erased items at ~150 bytes each. */
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
export const MIN_CHUNK_BYTES = 4 * 1024;
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024;
export const NONCE_PREFIX_BYTES = 4;

/** Names of the two files of a full backup. */
export const DATA_FILE = "vecto.db";
export const KEYSTORE_FILE = "keys.db";

const base64 = z.base64().max(4096);
const fileSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/),
    size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** Per-tenant backups: the number of rows (JSON lines) in the file. */
    rows: z.number().int().nonnegative().optional(),
  })
  .strict();

const masterKeySchema = z
  .object({ type: z.literal("master"), masterLabel: z.string().min(1).max(200), wrapped: base64 })
  .strict();
const tenantKeySchema = z
  .object({ type: z.literal("tenant"), tenantId: z.string().min(1).max(200), sealed: base64 })
  .strict();

const headerSchema = z
  .object({
    kind: z.enum(["full", "tenant"]),
    backupId: z.uuid(),
    createdAt: z.iso.datetime(),
    installationId: z.string().min(1).max(200),
    producer: z.string().max(100),
    cipher: z
      .object({
        algorithm: z.literal("AES-256-GCM"),
        chunkBytes: z.number().int().min(MIN_CHUNK_BYTES).max(MAX_CHUNK_BYTES),
        noncePrefix: base64,
      })
      .strict(),
    key: z.discriminatedUnion("type", [masterKeySchema, tenantKeySchema]),
    schema: z
      .object({ data: z.number().int().nonnegative(), keystore: z.number().int().nonnegative().optional() })
      .strict(),
    tenant: z
      .object({ id: z.string().min(1).max(200), slug: z.string().min(1).max(200) })
      .strict()
      .optional(),
    files: z.array(fileSchema).min(1).max(64),
    erasures: z
      .object({ tenants: z.array(erasedTenantSchema), content: z.array(erasedContentSchema) })
      .strict()
      .optional(),
  })
  .strict();

export type BackupHeader = z.infer<typeof headerSchema>;
export type BackupFileEntry = z.infer<typeof fileSchema>;

/** What a reader gets back: the header, and the hash every chunk is bound to. */
export interface ParsedHeader {
  readonly header: BackupHeader;
  readonly headerHash: Uint8Array;
  /** Offset of the first chunk. */
  readonly dataOffset: number;
}

/**
 * Cross-field rules zod cannot say in one schema: a full backup is the two databases under the master key; a tenant
 * backup is sealed by that tenant's key.
 */
function checkShape(header: BackupHeader): string | undefined {
  const names = header.files.map((f) => f.name);
  if (new Set(names).size !== names.length) return "duplicate file names";
  if (Buffer.from(header.cipher.noncePrefix, "base64").length !== NONCE_PREFIX_BYTES) return "bad nonce prefix";
  if (header.kind === "full") {
    if (header.key.type !== "master" || header.schema.keystore === undefined || header.tenant !== undefined)
      return "inconsistent full backup";
    if (names.join(",") !== `${DATA_FILE},${KEYSTORE_FILE}`) return "a full backup holds vecto.db and keys.db";
    return undefined;
  }
  if (
    header.key.type !== "tenant" ||
    header.tenant === undefined ||
    header.key.tenantId !== header.tenant.id ||
    header.erasures !== undefined
  )
    return "inconsistent tenant backup";
  return undefined;
}

/** The bytes before the first chunk. */
export function encodeHeader(header: BackupHeader): Buffer {
  const problem = checkShape(header);
  if (problem !== undefined) throw new Error(`refusing to write an invalid header: ${problem}`);
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt16BE(FORMAT_VERSION, MAGIC.length);
  prefix.writeUInt32BE(json.length, MAGIC.length + 2);
  return Buffer.concat([prefix, json]);
}

export function hashHeader(encoded: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(encoded).digest());
}

async function readExactly(
  handle: FileHandle,
  length: number,
  position: number,
  what: string,
  file: string,
): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  if (bytesRead !== length) throw new BackupInvalidError(`${file} is truncated: it ends inside the ${what}`);
  return buffer;
}

/** Parses the header JSON; any deviation from the schema is a modified or foreign file. */
function parseHeaderJson(json: Buffer, file: string): BackupHeader {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch {
    throw new BackupInvalidError(`${file} has a header that is not valid JSON: the file is modified or corrupt`);
  }
  const parsed = headerSchema.safeParse(value);
  if (!parsed.success)
    throw new BackupInvalidError(
      `${file} has an invalid header (${parsed.error.issues[0]?.path.join(".") || "header"}): the file ` +
        `is modified or corrupt`,
    );
  const problem = checkShape(parsed.data);
  if (problem !== undefined)
    throw new BackupInvalidError(`${file} has an invalid header (${problem}): the file is modified or corrupt`);
  return parsed.data;
}

/** Reads and checks the header at the start of an open backup file. */
export async function readHeader(handle: FileHandle, file: string): Promise<ParsedHeader> {
  const prefix = await readExactly(handle, PREFIX_BYTES, 0, "header", file);
  if (!prefix.subarray(0, MAGIC.length).equals(MAGIC)) throw new BackupInvalidError(`${file} is not a Vecto backup`);
  const version = prefix.readUInt16BE(MAGIC.length);
  if (version !== FORMAT_VERSION)
    throw new BackupInvalidError(
      `${file} has backup format version ${version}; this build reads version ${FORMAT_VERSION}`,
    );
  const length = prefix.readUInt32BE(MAGIC.length + 2);
  if (length === 0 || length > MAX_HEADER_BYTES)
    throw new BackupInvalidError(`${file} has an invalid header length: the file is modified or corrupt`);
  const json = await readExactly(handle, length, PREFIX_BYTES, "header", file);
  const header = parseHeaderJson(json, file);
  return { header, headerHash: hashHeader(Buffer.concat([prefix, json])), dataOffset: PREFIX_BYTES + length };
}

/** AAD of the wrapped file key: binds it to the format version, kind and backup id. */
export function fileKeyAad(header: Pick<BackupHeader, "kind" | "backupId">): Uint8Array {
  return new TextEncoder().encode(`vecto-backup/v${FORMAT_VERSION}/${header.kind}/${header.backupId}`);
}

/** Where a tenant backup's file key is sealed with the tenant's data key (its FieldRef). */
export function tenantFileKeyRef(backupId: string): { table: string; column: string; rowId: string } {
  return { table: "backups", column: "file_key", rowId: backupId };
}
