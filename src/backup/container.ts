/**
 * The plaintext inside a backup's chunk stream: the files one after another, length-prefixed.
 *
 *   per file: 0x01 | name length u16 BE | name (UTF-8) | size u64 BE | size bytes
 *   end:      0x00
 *
 * The header lists the same files, in the same order, with sizes and SHA-256; unpacking checks
 * each against it, so the container and the header cannot disagree unnoticed. (tar would do, but
 * a layout this small is checked exactly, with no padding or name-length rules to get wrong.)
 */
import { createHash } from "node:crypto";
import { createReadStream, constants as fsc } from "node:fs";
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { ByteQueue } from "../crypto/index.js";
import { BackupInvalidError } from "./errors.js";
import type { BackupFileEntry } from "./format.js";

const ENTRY = 0x01;
const END = 0x00;
const READ_BYTES = 1024 * 1024;

export interface SourceFile {
  readonly name: string;
  readonly path: string;
}

function entryHeader(name: string, size: number): Buffer {
  const nameBytes = Buffer.from(name, "utf8");
  const out = Buffer.alloc(1 + 2 + nameBytes.length + 8);
  out[0] = ENTRY;
  out.writeUInt16BE(nameBytes.length, 1);
  nameBytes.copy(out, 3);
  out.writeBigUInt64BE(BigInt(size), 3 + nameBytes.length);
  return out;
}

/** The container's bytes, streamed from the files; `onBytes` counts file content for progress. */
export async function* packFiles(files: readonly SourceFile[], onBytes?: (n: number) => void): AsyncGenerator<Buffer> {
  for (const file of files) {
    const size = (await stat(file.path)).size;
    yield entryHeader(file.name, size);
    let seen = 0;
    for await (const piece of createReadStream(file.path, { highWaterMark: READ_BYTES }) as AsyncIterable<Buffer>) {
      seen += piece.length;
      onBytes?.(piece.length);
      yield piece;
    }
    // The files are private copies nobody else writes; a change here is a bug, not an attack.
    if (seen !== size) throw new Error(`${file.name} changed while it was being backed up`);
  }
  yield Buffer.from([END]);
}

/** Pulls exact byte counts out of an async byte stream. */
class StreamReader {
  readonly #queue = new ByteQueue();
  #done = false;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  async #fill(min: number): Promise<boolean> {
    while (this.#queue.length < min && !this.#done) {
      const next = await this.source.next();
      if (next.done) this.#done = true;
      else this.#queue.push(next.value);
    }
    return this.#queue.length >= min;
  }

  async exact(n: number, what: string): Promise<Buffer> {
    if (!(await this.#fill(n))) throw new BackupInvalidError(`the backup's content ends inside ${what}`);
    return this.#queue.take(n);
  }

  /** Up to `max` bytes (at least one), or throws when the stream ended. */
  async some(max: number, what: string): Promise<Buffer> {
    if (!(await this.#fill(1))) throw new BackupInvalidError(`the backup's content ends inside ${what}`);
    return this.#queue.take(Math.min(max, this.#queue.length));
  }

  async atEnd(): Promise<boolean> {
    return !(await this.#fill(1));
  }
}

async function readEntryHeader(reader: StreamReader, expected: BackupFileEntry): Promise<void> {
  const [marker] = await reader.exact(1, "the file list");
  if (marker !== ENTRY)
    throw new BackupInvalidError(`the backup's content does not match its header: ${expected.name} is missing`);
  const nameLength = (await reader.exact(2, "a file name")).readUInt16BE(0);
  const name = (await reader.exact(nameLength, "a file name")).toString("utf8");
  const size = (await reader.exact(8, "a file size")).readBigUInt64BE(0);
  if (name !== expected.name || size !== BigInt(expected.size)) {
    throw new BackupInvalidError(`the backup's content does not match its header at ${expected.name}`);
  }
}

/** Writes one entry to a new private file while hashing it, and checks the hash against the header. */
async function unpackEntry(reader: StreamReader, expected: BackupFileEntry, dir: string): Promise<void> {
  const handle = await open(join(dir, expected.name), fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  const hash = createHash("sha256");
  try {
    let left = expected.size;
    while (left > 0) {
      const piece = await reader.some(Math.min(left, READ_BYTES), expected.name);
      hash.update(piece);
      await handle.write(piece);
      left -= piece.length;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (hash.digest("hex") !== expected.sha256)
    throw new BackupInvalidError(`${expected.name} in the backup does not match its SHA-256 in the header`);
}

/** Unpacks the container into `dir` (which must hold none of the names), checking every file against the header. */
export async function unpackFiles(
  source: AsyncIterable<Uint8Array>,
  expected: readonly BackupFileEntry[],
  dir: string,
): Promise<void> {
  const iterator = source[Symbol.asyncIterator]();
  const reader = new StreamReader(iterator);
  try {
    for (const entry of expected) {
      await readEntryHeader(reader, entry);
      await unpackEntry(reader, entry, dir);
    }
    const [marker] = await reader.exact(1, "the end marker");
    if (marker !== END) throw new BackupInvalidError("the backup's content has more files than its header lists");
    if (!(await reader.atEnd())) throw new BackupInvalidError("the backup's content has data after its end marker");
  } finally {
    // Stops the chunk decryption (and the file read under it) when unpacking ends early.
    await iterator.return?.();
  }
}

/** SHA-256 (hex) and size of a file, read into one reused buffer (hashing consumes each piece at once). */
export async function hashFile(path: string, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  const handle = await open(path, "r");
  let size = 0;
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      size += bytesRead;
      onBytes?.(bytesRead);
    }
  } finally {
    await handle.close();
  }
  return { sha256: hash.digest("hex"), size };
}
