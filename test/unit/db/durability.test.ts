/**
 * Durable before acknowledged, with the fsync off the event loop (src/db/wal-sync.ts, ADR 0008):
 * the connection commits with synchronous=NORMAL and the WAL's fdatasync runs on libuv's thread
 * pool. The fsync calls are node:fs's own; a test that must watch who waits for one holds its
 * completion back (the real fdatasync still runs before it is released).
 */
import { fdatasync, fdatasyncSync, fstatSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import BetterSqlite3 from "better-sqlite3";
import { Hono } from "hono";
import { afterEach, describe, expect, it } from "vitest";
import type { Database } from "../../../src/db/db.js";
import type { TenantDb } from "../../../src/db/tenant-db.js";
import { mintTenantScope } from "../../../src/db/tenant-scope.js";
import { StorageFailedError, WalSync, type SyncCalls } from "../../../src/db/wal-sync.js";
import { createLogger } from "../../../src/log.js";
import type { AppEnv } from "../../../src/server/deps.js";
import { durableAnswers } from "../../../src/server/middleware/durable-answers.js";
import { streamedBody } from "../../../src/server/streamed.js";
import { tempDir } from "../../helpers.js";
import { openSealed, tenantRow, testEvent, userRow } from "./rows.js";

/** node:fs's fsync calls, counted; `hold()` keeps the next asynchronous ones from completing until `release()`. */
class HeldSync implements SyncCalls {
  asyncCalls = 0;
  syncCalls = 0;
  /** The file descriptor and inode of every fsync, in order. */
  readonly files: { fd: number; ino: number }[] = [];
  private holding = false;
  private held: (() => void)[] = [];
  /** Set to make the next asynchronous fsync fail with this code instead. */
  failWith: string | undefined;

  fdatasync(fd: number, done: (error: NodeJS.ErrnoException | null) => void): void {
    this.asyncCalls += 1;
    this.files.push({ fd, ino: fstatSync(fd).ino });
    if (this.failWith !== undefined) {
      const error: NodeJS.ErrnoException = Object.assign(new Error(`${this.failWith}: i/o error, fdatasync`), {
        code: this.failWith,
      });
      setImmediate(() => done(error));
      return;
    }
    fdatasync(fd, (error) => {
      if (this.holding) this.held.push(() => done(error));
      else done(error);
    });
  }

  fdatasyncSync(fd: number): void {
    this.syncCalls += 1;
    this.files.push({ fd, ino: fstatSync(fd).ino });
    fdatasyncSync(fd);
  }

  hold(): void {
    this.holding = true;
  }

  /** Lets every held fsync complete (waiting first for those still running on the thread pool). */
  async release(expected: number): Promise<void> {
    while (this.held.length < expected) await new Promise((resolve) => setTimeout(resolve, 5));
    this.holding = false;
    for (const done of this.held.splice(0)) done();
  }
}

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe("durable before acknowledged, the fsync off the event loop", () => {
  let cleanup: (() => void) | undefined;
  afterEach(() => cleanup?.());

  async function open(
    durability: "full" | "normal" = "full",
  ): Promise<{ db: Database; beta: TenantDb; file: string; sync: HeldSync }> {
    const dir = tempDir("vecto-durability-");
    const file = join(dir.path, "vecto.db");
    const sync = new HeldSync();
    const db = openSealed(file, { durability, syncCalls: sync });
    cleanup = () => {
      db.close();
      dir.cleanup();
    };
    await db.write((tx) => {
      tx.tenants.create(tenantRow("beta"));
      tx.audit(testEvent("beta", "tenant.created"));
    });
    return { db, beta: db.forTenant(mintTenantScope("beta", { type: "system", id: "test" })), file, sync };
  }

  const addUser = (beta: TenantDb, id: string): Promise<void> =>
    beta.write((tx) => {
      tx.users.insert(userRow(id));
      tx.audit(testEvent("beta"));
    });

  it("commits at once but acknowledges a write, and runs what follows its commit, only after the WAL's fsync", async () => {
    const { db, beta, file, sync } = await open();
    const heard: string[] = [];
    db.onCommitted((committed) => heard.push(...committed.logIds));
    sync.hold();
    let acknowledged = false;
    const write = addUser(beta, "b-1").then(() => (acknowledged = true));
    await turns(5);
    // Committed: another connection reads the row while its fsync is still held back...
    const other = new BetterSqlite3(file, { readonly: true });
    try {
      expect(other.prepare("SELECT id FROM users WHERE id = 'b-1'").get()).toEqual({ id: "b-1" });
    } finally {
      other.close();
    }
    // ...but nobody has been told: not the writer, not the listeners.
    expect(acknowledged).toBe(false);
    expect(heard).toEqual([]);
    await sync.release(1);
    await write;
    expect(acknowledged).toBe(true);
    expect(heard).toEqual(["beta"]);
  });

  it("memory that caches rows forgets a changed row at the COMMIT, before the fsync: it never lags behind what the connection reads", async () => {
    const { db, beta, sync } = await open();
    const heard: string[] = [];
    db.watchedRows.subscribe((change) =>
      heard.push(change.kind === "row" ? `${change.table}:${change.id}` : change.kind),
    );
    sync.hold();
    let acknowledged = false;
    const write = addUser(beta, "b-5").then(() => (acknowledged = true));
    await turns(5);
    expect(acknowledged).toBe(false);
    expect(heard).toContain("users:b-5");
    await sync.release(1);
    await write;
  });

  it("the event loop goes on while the fsync runs: the next writes commit meanwhile and share the next fsync", async () => {
    const { beta, sync } = await open();
    sync.hold();
    const first = addUser(beta, "b-10");
    await turns(3);
    const before = sync.asyncCalls;
    const next = [addUser(beta, "b-11"), addUser(beta, "b-12"), addUser(beta, "b-13")];
    await turns(3);
    // Committed while the first batch's fsync is held: visible on the connection, none acknowledged.
    expect(["b-11", "b-12", "b-13"].map((id) => beta.users.get(id)?.id)).toEqual(["b-11", "b-12", "b-13"]);
    expect(sync.asyncCalls).toBe(before);
    await sync.release(1);
    await Promise.all([first, ...next]);
    // One more fsync for the three writes that waited behind the first.
    expect(sync.asyncCalls).toBe(before + 1);
  });

  it("an answer that read a commit not yet on disk waits for it (durableAnswers)", async () => {
    const { db, beta, sync } = await open();
    const app = new Hono();
    app.use("*", durableAnswers({ whenDurable: () => db.whenDurable() }));
    app.get("/user/:id", (c) => c.json({ id: beta.users.get(c.req.param("id"))?.id ?? null }));
    sync.hold();
    const write = addUser(beta, "b-20");
    await turns(3);
    let answered = false;
    const answer = Promise.resolve(app.request("/user/b-20")).then(async (r) => {
      answered = true;
      return (await r.json()) as { id: string | null };
    });
    await turns(5);
    expect(answered).toBe(false);
    await sync.release(1);
    await expect(answer).resolves.toEqual({ id: "b-20" });
    await write;
    // With every commit on disk, an answer does not wait at all.
    expect(db.whenDurable()).toBeUndefined();
  });

  it("a streamed export's chunks wait for the commits made before them to be on disk (streamedBody)", async () => {
    const { db, beta, sync } = await open();
    const app = new Hono<AppEnv>();
    const durability = { whenDurable: () => db.whenDurable() };
    app.get("/export", (c) =>
      streamedBody(
        c,
        Readable.from([Buffer.from('{"n":1}\n'), Buffer.from('{"n":2}\n')]),
        { log: createLogger("silent"), durability },
        "export",
      ),
    );
    sync.hold();
    const write = addUser(beta, "b-25");
    await turns(3);
    const response = await app.request("/export");
    let body: string | undefined;
    const read = response.text().then((text) => (body = text));
    await turns(5);
    expect(body).toBeUndefined();
    await sync.release(1);
    await read;
    expect(body).toBe('{"n":1}\n{"n":2}\n');
    await write;
  });

  it("a failed fsync is never retried: its writes are refused, and so is every later write and readiness", async () => {
    const { db, beta, sync } = await open();
    sync.failWith = "EIO";
    await expect(addUser(beta, "b-30")).rejects.toBeInstanceOf(StorageFailedError);
    sync.failWith = undefined;
    await expect(addUser(beta, "b-31")).rejects.toBeInstanceOf(StorageFailedError);
    expect(() => db.checkStorage()).toThrow(StorageFailedError);
    await expect(db.whenDurable()).rejects.toBeInstanceOf(StorageFailedError);
  });

  it("a write that must be on disk before its caller goes on (an event with no change) is fsynced before it returns", async () => {
    const { db, sync } = await open();
    const before = sync.syncCalls;
    db.audit(testEvent(null));
    expect(sync.syncCalls).toBe(before + 1);
  });

  it("durability 'normal' acknowledges at commit and never calls fsync itself (SQLite syncs at checkpoints)", async () => {
    const { beta, sync } = await open("normal");
    await Promise.all([addUser(beta, "b-40"), addUser(beta, "b-41")]);
    expect(beta.users.get("b-41")?.id).toBe("b-41");
    expect(sync.asyncCalls + sync.syncCalls).toBe(0);
  });

  it("fsyncs the WAL file there is now when the old one was replaced mid-sync, and closes the old one once that sync ends", async () => {
    const dir = tempDir("vecto-wal-sync-");
    cleanup = () => dir.cleanup();
    const wal = join(dir.path, "vecto.db-wal");
    writeFileSync(wal, "frames");
    const sync = new HeldSync();
    const walSync = new WalSync(wal, "full", sync);
    sync.hold();
    let durable = false;
    walSync.whenDurable(walSync.committedNow(), () => (durable = true));
    await turns(3);
    const [old] = sync.files;
    unlinkSync(wal);
    writeFileSync(wal, "new frames");
    walSync.committedNow();
    walSync.syncNow();
    expect(sync.files[1]?.ino).toBe(statSync(wal).ino);
    expect(sync.files[1]?.ino).not.toBe(old?.ino);
    await sync.release(1);
    expect(durable).toBe(true);
    // The old file's descriptor is closed (its number may since name another file, never the old one).
    let stillOpen: boolean;
    try {
      stillOpen = fstatSync(old?.fd ?? -1).ino === old?.ino;
    } catch {
      stillOpen = false;
    }
    expect(stillOpen).toBe(false);
  });

  it("closing makes what is queued durable and settles it before the connection goes", async () => {
    const { db, beta, sync } = await open();
    const queued = addUser(beta, "b-50");
    const before = sync.syncCalls;
    db.close();
    await expect(queued).resolves.toBeUndefined();
    expect(sync.syncCalls).toBe(before + 1);
  });
});
