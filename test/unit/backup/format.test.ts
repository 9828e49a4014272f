/** The backup header (plain, authenticated through its hash) and the length-prefixed container inside the chunk stream. */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hashFile, packFiles, unpackFiles } from "../../../src/backup/container.js";
import { BackupInvalidError } from "../../../src/backup/errors.js";
import {
  encodeHeader,
  FORMAT_VERSION,
  MAGIC,
  PREFIX_BYTES,
  readHeader,
  type BackupHeader,
  type BackupFileEntry,
} from "../../../src/backup/format.js";
import { testDir } from "../../helpers.js";

function header(overrides: Partial<BackupHeader> = {}): BackupHeader {
  return {
    kind: "full",
    backupId: randomUUID(),
    createdAt: new Date().toISOString(),
    installationId: randomUUID(),
    producer: "vecto test",
    cipher: { algorithm: "AES-256-GCM", chunkBytes: 1024 * 1024, noncePrefix: randomBytes(4).toString("base64") },
    key: { type: "master", masterLabel: "env:0123456789abcdef", wrapped: randomBytes(60).toString("base64") },
    schema: { data: 9, keystore: 2 },
    files: [
      { name: "vecto.db", size: 10, sha256: "a".repeat(64) },
      { name: "keys.db", size: 5, sha256: "b".repeat(64) },
    ],
    ...overrides,
  };
}

describe("backup format", () => {
  async function parse(bytes: Uint8Array): Promise<BackupHeader> {
    const file = join(testDir(), "b.vbak");
    writeFileSync(file, bytes);
    const handle = await open(file, "r");
    try {
      return (await readHeader(handle, file)).header;
    } finally {
      await handle.close();
    }
  }

  async function failsWith(bytes: Uint8Array, message: RegExp): Promise<void> {
    const error = await parse(bytes).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupInvalidError);
    expect((error as Error).message).toMatch(message);
  }

  it("round-trips a header and starts with the magic and version", async () => {
    const h = header();
    const encoded = encodeHeader(h);
    expect(encoded.subarray(0, 8).equals(MAGIC)).toBe(true);
    expect(encoded.readUInt16BE(8)).toBe(FORMAT_VERSION);
    expect(encoded.readUInt32BE(10)).toBe(encoded.length - PREFIX_BYTES);
    expect(await parse(encoded)).toEqual(h);
  });

  it("refuses what is not a backup, a newer version, a cut header, a broken or foreign header", async () => {
    const encoded = encodeHeader(header());
    await failsWith(Buffer.from("SQLite format 3\0 and more"), /is not a Vecto backup/);
    const newer = Buffer.from(encoded);
    newer.writeUInt16BE(2, 8);
    await failsWith(newer, /backup format version 2; this build reads version 1/);
    await failsWith(encoded.subarray(0, 5), /truncated: it ends inside the header/);
    await failsWith(encoded.subarray(0, encoded.length - 3), /truncated: it ends inside the header/);
    const broken = Buffer.from(encoded);
    broken[broken.length - 1] = 0x20; // the closing brace
    await failsWith(broken, /not valid JSON/);
    const extra = encodeHeaderUnchecked({ ...header(), extra: true });
    await failsWith(extra, /invalid header/);
    const wrongFiles = encodeHeaderUnchecked(
      header({ files: [{ name: "other.db", size: 1, sha256: "c".repeat(64) }] }),
    );
    await failsWith(wrongFiles, /invalid header \(a full backup holds vecto.db and keys.db\)/);
    const mixed = encodeHeaderUnchecked(header({ kind: "tenant" }));
    await failsWith(mixed, /inconsistent tenant backup/);
  });

  it("carries a full backup's erasure record, strictly shaped; a tenant backup carries none", async () => {
    const erasures = {
      tenants: [{ tenantId: randomUUID(), erasedAt: "2026-01-01T00:00:00.000Z" }],
      content: [
        { tenantId: randomUUID(), kind: "node" as const, id: randomUUID(), erasedAt: "2026-01-02T00:00:00.000Z" },
      ],
    };
    expect((await parse(encodeHeader(header({ erasures })))).erasures).toEqual(erasures);
    await failsWith(
      encodeHeaderUnchecked({
        ...header(),
        erasures: { ...erasures, content: [{ ...erasures.content[0], title: "leaked" }] },
      }),
      /invalid header \(erasures\.content\.0\)/,
    );
    await failsWith(
      encodeHeaderUnchecked({ ...header(), erasures: { tenants: [{ tenantId: "" }], content: [] } }),
      /invalid header \(erasures\.tenants\.0/,
    );
    const tenant = header({
      kind: "tenant",
      key: { type: "tenant", tenantId: "t1", sealed: randomBytes(40).toString("base64") },
      tenant: { id: "t1", slug: "acme" },
      schema: { data: 9 },
      files: [{ name: "tenants.jsonl", size: 1, sha256: "c".repeat(64), rows: 1 }],
    });
    expect(() => encodeHeader(tenant)).not.toThrow();
    expect(() => encodeHeader({ ...tenant, erasures })).toThrow(/inconsistent tenant backup/);
  });

  it("never writes an inconsistent header", () => {
    expect(() => encodeHeader(header({ kind: "tenant" }))).toThrow(/invalid header/);
  });

  describe("container", () => {
    function files(root: string): { name: string; path: string; content: Buffer }[] {
      return [
        { name: "vecto.db", content: randomBytes(70_000) },
        { name: "keys.db", content: randomBytes(3) },
        { name: "empty.jsonl", content: Buffer.alloc(0) },
      ].map((f) => {
        const path = join(root, `src-${f.name}`);
        writeFileSync(path, f.content);
        return { ...f, path };
      });
    }

    async function entries(list: { name: string; path: string }[]): Promise<BackupFileEntry[]> {
      const out: BackupFileEntry[] = [];
      for (const f of list) out.push({ name: f.name, ...(await hashFile(f.path)) });
      return out;
    }

    async function packed(list: { name: string; path: string }[]): Promise<Buffer> {
      const out: Buffer[] = [];
      for await (const b of packFiles(list)) out.push(b);
      return Buffer.concat(out);
    }

    async function* once(bytes: Buffer): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < bytes.length; i += 4000) yield bytes.subarray(i, i + 4000);
    }

    it("unpacks exactly what was packed, checking sizes and hashes", async () => {
      const root = testDir();
      const list = files(root);
      const out = join(root, "out");
      mkdirSync(out);
      await unpackFiles(once(await packed(list)), await entries(list), out);
      for (const f of list) expect(readFileSync(join(out, f.name)).equals(f.content)).toBe(true);
    });

    it("refuses a container that disagrees with the header", async () => {
      const root = testDir();
      const list = files(root);
      const bytes = await packed(list);
      const expected = await entries(list);
      const attempt = async (data: Buffer, exp: BackupFileEntry[], message: RegExp): Promise<void> => {
        const error = await unpackFiles(once(data), exp, mkdtempSync(join(root, "o-"))).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BackupInvalidError);
        expect((error as Error).message).toMatch(message);
      };
      await attempt(
        bytes,
        [{ ...expected[0]!, sha256: "0".repeat(64) }, ...expected.slice(1)],
        /vecto.db in the backup does not match its SHA-256/,
      );
      await attempt(bytes, [expected[1]!, expected[0]!, expected[2]!], /does not match its header at keys.db/);
      await attempt(bytes, expected.slice(0, 2), /more files than its header lists/);
      await attempt(Buffer.concat([bytes, Buffer.from([1])]), expected, /data after its end marker/);
      await attempt(bytes.subarray(0, 50_000), expected, /ends inside vecto.db/);
      await attempt(
        bytes,
        [...expected, { name: "more.db", size: 1, sha256: "0".repeat(64) }],
        /more.db is missing|ends inside the file list/,
      );
    });
  });
});

/** Writes a header without encodeHeader's checks: what an attacker or a bug could put on disk. */
function encodeHeaderUnchecked(value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value), "utf8");
  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt16BE(FORMAT_VERSION, 8);
  prefix.writeUInt32BE(json.length, 10);
  return Buffer.concat([prefix, json]);
}
