/**
 * The notices behind everything served from memory (src/db/row-watch.ts), on a real SQLite file:
 * a committed change of a watched row is told after its commit, whatever statement made it
 * (insert, update, delete, a cascade); a rolled-back one never; a commit by another connection
 * is told by the next sync(), and only then; an open transaction's reads are not "committed".
 */
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Database } from "../../../src/db/db.js";
import type { RowChange } from "../../../src/db/row-watch.js";
import { tempDir } from "../../helpers.js";
import { openSealed, tenantRow, testEvent, userRow } from "./rows.js";

describe("watched rows", () => {
  let dir: { path: string; cleanup: () => void };
  let db: Database;
  let heard: string[];
  const said = (change: RowChange): string =>
    change.kind === "external" ? "external" : `${change.table}:${change.id}`;

  beforeEach(async () => {
    dir = tempDir("vecto-row-watch-");
    db = openSealed(join(dir.path, "vecto.db"));
    await db.write((tx) => {
      tx.tenants.create(tenantRow("beta"));
      tx.tenant("beta").users.insert(userRow("u-1"));
      tx.audit(testEvent("beta"));
    });
    heard = [];
    db.watchedRows.subscribe((change) => heard.push(said(change)));
  });
  afterEach(() => {
    db.close();
    dir.cleanup();
  });

  it("tells a committed change after the commit, not before, with the row's key", async () => {
    let inside: string[] = [];
    await db.write((tx) => {
      tx.tenant("beta").users.update("u-1", { role: "viewer" }, tx.now);
      tx.audit(testEvent("beta"));
      inside = [...heard];
    });
    expect(inside).toEqual([]);
    expect(heard).toContain("users:u-1");
  });

  it("tells nothing of a change rolled back", async () => {
    await expect(
      db.write((tx) => {
        tx.tenant("beta").users.update("u-1", { status: "disabled" }, tx.now);
        tx.audit(testEvent("beta"));
        throw new Error("refused");
      }),
    ).rejects.toThrow("refused");
    expect(heard).toEqual([]);
  });

  it("tells deletions, cascades included: erasing a tenant names its users", async () => {
    await db.write((tx) => {
      tx.tenants.erase("beta");
      tx.audit(testEvent(null));
    });
    expect(heard).toEqual(expect.arrayContaining(["tenants:beta", "users:u-1"]));
  });

  it("tells another connection's commit at the next sync(), once, and nothing while none came", async () => {
    db.watchedRows.sync();
    expect(heard).toEqual([]);
    const other = openSealed(join(dir.path, "vecto.db"));
    try {
      await other.write((tx) => {
        tx.tenant("beta").users.update("u-1", { status: "disabled" }, tx.now);
        tx.audit(testEvent("beta"));
      });
    } finally {
      other.close();
    }
    // The other connection's triggers do not exist: this connection hears it only by looking.
    expect(heard).toEqual([]);
    db.watchedRows.sync();
    db.watchedRows.sync();
    expect(heard).toEqual(["external"]);
  });

  it("says reads are committed only outside a transaction", async () => {
    expect(db.watchedRows.readsCommitted).toBe(true);
    let inside: boolean | undefined;
    await db.write((tx) => {
      inside = db.watchedRows.readsCommitted;
      tx.audit(testEvent("beta"));
    });
    expect(inside).toBe(false);
  });
});
