/** The memory of src/auth/principal-cache.ts: bounded (least recently used first), forgotten by the rows it came from. */
import { describe, expect, it } from "vitest";
import { PrincipalCache, rowTag } from "../../../src/auth/principal-cache.js";

const tags = (session: string, user: string, tenant: string): string[] => [
  rowTag("sessions", session),
  rowTag("users", user),
  rowTag("tenants", tenant),
];

describe("PrincipalCache", () => {
  it("holds at most its capacity, dropping the least recently used first", () => {
    const cache = new PrincipalCache<string>(3);
    for (const id of ["a", "b", "c"]) cache.set(id, id, tags(id, "u", "t"));
    expect(cache.get("a")).toBe("a"); // a is now the most recent
    cache.set("d", "d", tags("d", "u", "t"));
    expect(cache.size).toBe(3);
    expect(cache.get("b")).toBeUndefined();
    expect(["a", "c", "d"].map((k) => cache.get(k))).toEqual(["a", "c", "d"]);
    // The evicted entry left no tag behind: forgetting its session drops nothing else.
    cache.forget({ kind: "row", table: "sessions", id: "b" });
    expect(cache.size).toBe(3);
  });

  it("forgets every entry that came from a changed row, and only those", () => {
    const cache = new PrincipalCache<string>(10);
    cache.set("s1", "s1", tags("s1", "u1", "t1"));
    cache.set("s2", "s2", tags("s2", "u1", "t1"));
    cache.set("s3", "s3", tags("s3", "u2", "t1"));
    cache.set("s4", "s4", tags("s4", "u3", "t2"));
    cache.forget({ kind: "row", table: "sessions", id: "s1" });
    expect(cache.get("s1")).toBeUndefined();
    expect(cache.get("s2")).toBe("s2");
    cache.forget({ kind: "row", table: "users", id: "u1" });
    expect(cache.get("s2")).toBeUndefined();
    expect(cache.get("s3")).toBe("s3");
    cache.forget({ kind: "row", table: "tenants", id: "t1" });
    expect(cache.get("s3")).toBeUndefined();
    expect(cache.get("s4")).toBe("s4");
    // The same id in another table is another row.
    cache.forget({ kind: "row", table: "personal_access_tokens", id: "s4" });
    expect(cache.get("s4")).toBe("s4");
    cache.forget({ kind: "external" });
    expect(cache.size).toBe(0);
  });

  it("replacing an entry drops the old one's tags", () => {
    const cache = new PrincipalCache<string>(10);
    cache.set("k", "old", tags("s", "u-old", "t"));
    cache.set("k", "new", tags("s", "u-new", "t"));
    cache.forget({ kind: "row", table: "users", id: "u-old" });
    expect(cache.get("k")).toBe("new");
  });

  it("with no capacity, keeps nothing", () => {
    const cache = new PrincipalCache<string>(0);
    cache.set("k", "v", tags("s", "u", "t"));
    expect(cache.get("k")).toBeUndefined();
  });
});
