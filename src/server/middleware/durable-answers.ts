/**
 * No answer carries what a power cut could still take back. Commits become durable a moment
 * after they are visible (the WAL's fsync runs off the event loop: src/db/wal-sync.ts), so a
 * request may read another's commit before it is on disk; its answer waits until every commit
 * made so far is (usually nothing to wait for, or the fsync already under way). Streamed exports
 * wait the same way before each chunk (src/server/streamed.ts).
 */
import type { MiddlewareHandler } from "hono";
import type { DurableReads } from "../../services.js";
import type { AppEnv } from "../deps.js";

export function durableAnswers(durability: DurableReads): MiddlewareHandler<AppEnv> {
  return async (_c, next) => {
    await next();
    const wait = durability.whenDurable();
    if (wait !== undefined) await wait;
  };
}
