/**
 * The facts authentication looked up for a credential (its session or token row, the user, the
 * tenant), kept in memory so the next request with the same credential does not read them again.
 *
 * Forgetting is not left to the code that changes those rows: the database tells of every
 * committed change to a watched row (src/db/row-watch.ts: triggers on tenants, users, sessions and
 * personal_access_tokens, whatever path wrote) and of every commit by another connection, and
 * each entry is tagged with the rows it came from. A change drops every entry tagged with its row,
 * before the write that made it is answered; another process's commit drops everything.
 *
 * What is never kept: a refusal (an unknown, revoked or expired credential is looked up again
 * each time), and the clock: expiry is checked against the time at every request. Bounded:
 * the least recently used entry goes first.
 */
import type { RowChange, WatchedTable } from "../db/row-watch.js";

/** The rows an entry came from: one tag each. */
export function rowTag(table: WatchedTable, id: string): string {
  return `${table}:${id}`;
}

interface Entry<V> {
  readonly value: V;
  readonly tags: readonly string[];
}

export class PrincipalCache<V> {
  /** Insertion order is recency order: a hit moves its key to the end, eviction takes the first. */
  private readonly entries = new Map<string, Entry<V>>();
  private readonly byTag = new Map<string, Set<string>>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Keeps value under key until a row named by one of its tags changes (or it is the least recently used). */
  set(key: string, value: V, tags: readonly string[]): void {
    if (this.capacity <= 0) return;
    this.delete(key);
    while (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.delete(oldest.value);
    }
    this.entries.set(key, { value, tags });
    for (const tag of tags) {
      let keys = this.byTag.get(tag);
      if (keys === undefined) this.byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }

  /** What the database says changed: the entries from that row, or (another connection committed) all. */
  forget(change: RowChange): void {
    if (change.kind === "external") return this.clear();
    const keys = this.byTag.get(rowTag(change.table, change.id));
    if (keys === undefined) return;
    for (const key of [...keys]) this.delete(key);
  }

  clear(): void {
    this.entries.clear();
    this.byTag.clear();
  }

  private delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    for (const tag of entry.tags) {
      const keys = this.byTag.get(tag);
      if (keys === undefined) continue;
      keys.delete(key);
      if (keys.size === 0) this.byTag.delete(tag);
    }
  }
}
