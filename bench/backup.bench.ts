/**
 * Backup throughput: `createFullBackup` (online snapshot of both files, SHA-256 pass, chunked
 * AES-256-GCM into a new fsynced file) and `verifyBackup` (decrypt every chunk, write and hash the
 * files, PRAGMA integrity_check) on a ~160 MB database, against baselines measured in the same
 * run on the same file: `fs.copyFile` of the database (the kernel's copy; on some filesystems
 * nearly free), a user-space stream copy with fsync (what `cp && sync` costs), the SQLite online
 * backup alone (the snapshot step), and in-memory AES-256-GCM over 1 MiB buffers (the cipher's
 * ceiling on this CPU). Each is run REPS times, interleaved, and the median is reported. MB/s are
 * of the database bytes (10^6 bytes per MB).
 *
 * The appliance's real database (migrations, installation, keystore with the platform root key)
 * is made with openServices; the bulk is one extra table of random 4 KiB blobs (incompressible,
 * like sealed content), added with plain SQL in this bench only.
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, mkdtemp, open, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import BetterSqlite3 from "better-sqlite3";
import { createFullBackup } from "../src/backup/create.js";
import { privateWorkDir } from "../src/backup/files.js";
import { verifyBackup } from "../src/backup/verify.js";
import { loadConfig } from "../src/config.js";
import { prepareForServe } from "../src/data-dir.js";
import { keystorePath } from "../src/db/db.js";
import { snapshotDatabases } from "../src/db/snapshot.js";
import { createLogger } from "../src/log.js";
import { openKeyResolver, openServices } from "../src/services.js";

const TARGET_BYTES = 160 * 1024 * 1024;
const BLOB_BYTES = 4096;
const REPS = 3;
const MB = 1_000_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

/** A plain user-space copy, made durable: read and write in 1 MiB pieces, then fsync. */
async function streamCopy(from: string, to: string): Promise<void> {
  const out = await open(to, "wx", 0o600);
  try {
    for await (const piece of createReadStream(from, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>)
      await out.write(piece);
    await out.sync();
  } finally {
    await out.close();
  }
}

/** AES-256-GCM over `bytes` in 1 MiB buffers, in memory: no I/O, no framing. */
async function gcmOnly(bytes: number): Promise<void> {
  const key = randomBytes(32);
  const buffer = randomBytes(1024 * 1024);
  for (let done = 0; done < bytes; done += buffer.length) {
    const cipher = createCipheriv("aes-256-gcm", key, randomBytes(12));
    cipher.update(buffer);
    cipher.final();
    cipher.getAuthTag();
  }
}

function fill(databaseFile: string): void {
  const db = new BetterSqlite3(databaseFile);
  db.exec("CREATE TABLE bench_fill (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)");
  const insert = db.prepare(
    "INSERT INTO bench_fill (payload) SELECT randomblob(?) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT x FROM c)",
  );
  insert.run(BLOB_BYTES, Math.ceil(TARGET_BYTES / BLOB_BYTES));
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.close();
}

export async function run(): Promise<Record<string, unknown>> {
  const root = await mkdtemp(join(tmpdir(), "vecto-bench-backup-"));
  try {
    const config = loadConfig({ VECTO_ENV_FILE: "/dev/null", VECTO_DATA_DIR: join(root, "data") }, root);
    const log = createLogger("silent");
    await prepareForServe(config, log);
    const services = await openServices(config, log);
    services.close();
    fill(config.databaseFile);
    const source = {
      dataDir: config.dataDir,
      databaseFile: config.databaseFile,
      keystoreFile: keystorePath(config.databaseFile),
    };
    const dbBytes = (await stat(config.databaseFile)).size + (await stat(source.keystoreFile)).size;
    const resolver = await openKeyResolver(config);

    const times = {
      copyFile: [] as number[],
      streamCopy: [] as number[],
      gcm: [] as number[],
      snapshot: [] as number[],
      create: [] as number[],
      verify: [] as number[],
    };
    let backupBytes = 0;
    for (let rep = 0; rep < REPS; rep++) {
      const copy = join(root, `copy-${rep}.db`);
      times.copyFile.push(await timed(() => copyFile(config.databaseFile, copy)));
      await rm(copy);
      times.streamCopy.push(await timed(() => streamCopy(config.databaseFile, copy)));
      await rm(copy);
      times.gcm.push(await timed(() => gcmOnly(dbBytes)));
      const snapDir = await privateWorkDir(config.dataDir, "bench-snapshot");
      times.snapshot.push(
        await timed(() =>
          snapshotDatabases(source, {
            databaseFile: join(snapDir.path, "vecto.db"),
            keystoreFile: join(snapDir.path, "keys.db"),
          }),
        ),
      );
      await snapDir.remove();
      const out = join(root, `backup-${rep}.vbak`);
      times.create.push(await timed(() => createFullBackup(source, resolver, { out })));
      backupBytes = (await stat(out)).size;
      const work = await privateWorkDir(config.dataDir, "bench-verify");
      times.verify.push(await timed(() => verifyBackup(out, { resolver }, work.path)));
      await work.remove();
      await rm(out);
    }
    const rate = (seconds: number): number => Math.round((dbBytes / MB / seconds) * 10) / 10;
    const ratio = (baseline: number[], values: number[]): number =>
      Math.round((median(values) / median(baseline)) * 100) / 100;
    const row = (step: string, values: number[]): Record<string, unknown> => ({
      step,
      seconds: Math.round(median(values) * 1000) / 1000,
      MBps: rate(median(values)),
      "x copyFile time": ratio(times.copyFile, values),
      "x stream copy time": ratio(times.streamCopy, values),
    });
    const summary = [
      row("fs.copyFile (baseline)", times.copyFile),
      row("stream copy + fsync (baseline)", times.streamCopy),
      row("AES-256-GCM in memory (ceiling)", times.gcm),
      row("sqlite online backup only", times.snapshot),
      row("backup create", times.create),
      row("backup verify", times.verify),
    ];
    return {
      databaseBytes: dbBytes,
      backupBytes,
      overheadBytes: backupBytes - dbBytes,
      reps: REPS,
      seconds: times,
      summary,
    };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
