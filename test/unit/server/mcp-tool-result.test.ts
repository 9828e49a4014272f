/**
 * What an MCP tool's failure tells the client (src/server/mcp/tool-result.ts): a DomainError's
 * message, written to be shown; for anything else a fixed sentence with the request id, the
 * error's name and message going to the log only. The SDK would otherwise send whatever a tool
 * throws as the error's text, SQL and paths included.
 */
import { describe, expect, it } from "vitest";
import { DomainError } from "../../../src/errors.js";
import { createLogger } from "../../../src/log.js";
import { failure, textResult } from "../../../src/server/mcp/tool-result.js";

function capture(): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger("info", { write: (line: string) => void lines.push(line) }), lines };
}

const text = (result: ReturnType<typeof failure>): string =>
  result.content.map((part) => (part.type === "text" ? part.text : "")).join("");

describe("MCP tool results", () => {
  it("a DomainError becomes an isError result with its message, and nothing is logged", () => {
    const { log, lines } = capture();
    const result = failure(log, "req-1", "read_node", new DomainError("not-found", "no such node"));
    expect(result).toEqual({ content: [{ type: "text", text: "no such node" }], isError: true });
    expect(lines).toEqual([]);
  });

  it("any other error: a fixed sentence with the request id; its message (SQL, paths) only in the log", () => {
    const { log, lines } = capture();
    const internal = new Error("SQLITE_ERROR: no such column: title_enc in SELECT * FROM nodes WHERE tenant_id = ?");
    const result = failure(log, "req-2", "list_nodes", internal);
    expect(result.isError).toBe(true);
    expect(text(result)).toBe("the tool failed; quote the request id req-2 to your administrator");
    expect(JSON.stringify(result)).not.toMatch(/SQLITE|SELECT|tenant_id|at /);
    expect(lines.join("")).toContain("no such column");
    expect(lines.join("")).toContain("req-2");
    expect(lines.join("")).not.toMatch(/"stack"/);
  });

  it("an unavailability (keys, storage) is named by its kind only", () => {
    const { log } = capture();
    const storage = Object.assign(new Error("ENOSPC: /var/lib/vecto/vecto.db-wal"), { unavailable: "storage-full" });
    const result = failure(log, "req-3", "create_node", storage);
    expect(text(result)).toBe("the appliance cannot serve this now (storage-full); retry later");
    expect(failure(log, "req-4", "create_node", "a thrown string").isError).toBe(true);
  });

  it("a success carries the value as JSON text and as structured content", () => {
    expect(textResult({ node: { id: "n1" } })).toEqual({
      content: [{ type: "text", text: '{"node":{"id":"n1"}}' }],
      structuredContent: { node: { id: "n1" } },
    });
  });
});
