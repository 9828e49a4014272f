/**
 * What a tool call answers. A success: the value as JSON text and as structured content. A
 * failure: a result with `isError`, as MCP wants, carrying a DomainError's or a ProviderError's
 * message (written to be shown), a fixed sentence for anything else; never a stack, SQL or an internal message, which
 * the SDK would otherwise pass on as the error's text (it turns whatever a tool throws into one).
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { ProviderError } from "../../ai/providers/provider.js";
import { DomainError, unavailableKind } from "../../errors.js";
import type { Logger } from "../../log.js";

export function textResult(value: Record<string, unknown>): CallToolResult {
  return { content: [{ type: "text", text: JSON.stringify(value) }], structuredContent: value };
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: "text", text }], isError: true };
}

/** What the caller may be told about a failure: nothing the domain did not write for it. */
export function failure(log: Logger, requestId: string, tool: string, error: unknown): CallToolResult {
  if (error instanceof DomainError) return errorResult(error.message);
  // A language model's failure, in words written for the client (src/ai/providers: one line, no key).
  if (error instanceof ProviderError) return errorResult(`${error.provider}: ${error.message}`);
  const { name, message } = error instanceof Error ? error : new Error(String(error));
  const unavailable = unavailableKind(error);
  if (unavailable !== undefined) {
    log.warn({ requestId, error: { name, message } }, `mcp tool ${tool}: ${unavailable}`);
    return errorResult(`the appliance cannot serve this now (${unavailable}); retry later`);
  }
  log.error({ requestId, error: { name, message } }, `mcp tool ${tool} failed`);
  return errorResult(`the tool failed; quote the request id ${requestId} to your administrator`);
}
