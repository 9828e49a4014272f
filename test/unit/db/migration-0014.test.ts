/**
 * Migration 0014 (separation of duties): edges that exist when it runs learn whether a person or
 * an agent made them from the users table; an edge whose maker is no longer on file is 'human'.
 */
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { migrate } from "../../../src/db/migrate.js";
import { migrations } from "../../../src/db/migrations/index.js";
import { tempDir } from "../../helpers.js";
import { T0 } from "./rows.js";

describe("migration 0014", () => {
  const dir = tempDir("vecto-migration-0014-");
  afterEach(() => dir.cleanup());

  it("records each existing edge's maker kind: agent, human, or human for a maker no longer on file", () => {
    const raw = new BetterSqlite3(join(dir.path, "vecto.db"));
    try {
      raw.pragma("foreign_keys = ON");
      const before = migrations.filter((m) => m.version < 14);
      migrate(raw, before, () => T0);
      raw
        .prepare("INSERT INTO tenants (id, slug, name, status, created_at) VALUES ('t', 't', '', 'active', ?)")
        .run(T0);
      const user = raw.prepare(
        "INSERT INTO users (id, tenant_id, kind, email_lookup, email_enc, name_enc, role, status, created_at, updated_at) " +
          "VALUES (?, 't', ?, ?, x'00', x'00', 'member', 'active', ?, ?)",
      );
      user.run("person", "human", Buffer.from("p"), T0, T0);
      user.run("bot", "agent", Buffer.from("b"), T0, T0);
      raw
        .prepare(
          "INSERT INTO projects (id, tenant_id, name_enc, status, created_by, created_at, updated_at) VALUES ('p', 't', x'00', 'active', 'person', ?, ?)",
        )
        .run(T0, T0);
      const node = raw.prepare(
        "INSERT INTO nodes (id, tenant_id, project_id, type, status, title_enc, body_enc, author_type, author_id, version, created_at, updated_at) " +
          "VALUES (?, 't', 'p', 'note', 'open', x'00', x'00', 'human', 'person', 1, ?, ?)",
      );
      for (const id of ["a", "b", "c", "d"]) node.run(id, T0, T0);
      const edge = raw.prepare(
        "INSERT INTO edges (id, tenant_id, project_id, type, from_id, to_id, created_by, created_at) VALUES (?, 't', 'p', 'relates', ?, ?, ?, ?)",
      );
      edge.run("by-person", "a", "b", "person", T0);
      edge.run("by-bot", "b", "c", "bot", T0);
      edge.run("by-gone", "c", "d", "deleted-user", T0);

      expect(migrate(raw, migrations, () => T0)).toEqual([
        14,
        ...migrations.filter((m) => m.version > 14).map((m) => m.version),
      ]);
      const kinds = raw.prepare("SELECT id, created_by_type AS kind FROM edges ORDER BY id").all();
      expect(kinds).toEqual([
        { id: "by-bot", kind: "agent" },
        { id: "by-gone", kind: "human" },
        { id: "by-person", kind: "human" },
      ]);
      expect(() => raw.prepare("UPDATE edges SET created_by_type = 'robot' WHERE id = 'by-bot'").run()).toThrow(
        /CHECK constraint failed/,
      );
    } finally {
      raw.close();
    }
  });
});
